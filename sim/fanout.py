"""Event fan-out latency: from a write's acknowledgement to the last terminal having its event.

Writes are matched to their events by a marker the write put in its args (mix.Fanout), not by
seq: the reply does not carry the seq, and the marker works whichever terminal sent the write.
A terminal may see the event before the writer sees its reply (both leave the server after
the commit), so an event every terminal already had when the ack came counts as 0 ms: the
fan-out was complete by then.
"""

from __future__ import annotations

__all__ = ["FanoutTracker"]


class FanoutTracker:
    """Receipt times per marker across all terminals, and ack times per marker."""

    def __init__(self, terminals: int) -> None:
        self.terminals = terminals
        self._acked: dict[str, float] = {}
        self._seen: dict[str, list[float]] = {}

    def acked(self, marker: str, at: float) -> None:
        """The write carrying `marker` was acknowledged ok at `at` (perf_counter seconds)."""
        self._acked[marker] = at

    def received(self, marker: str, at: float) -> None:
        """One terminal received the event carrying `marker` at `at`."""
        self._seen.setdefault(marker, []).append(at)

    def _complete(self, marker: str) -> bool:
        return len(self._seen.get(marker, ())) >= self.terminals

    @property
    def outstanding(self) -> int:
        """Acknowledged writes whose event has not yet reached every terminal."""
        return sum(1 for marker in self._acked if not self._complete(marker))

    def latencies(self) -> list[float]:
        """Seconds from ack to last receipt, for every acknowledged write that fanned out fully."""
        return [max(0.0, max(self._seen[marker]) - at) for marker, at in self._acked.items()
                if self._complete(marker)]
