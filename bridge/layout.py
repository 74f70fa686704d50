"""Job documents → paper (``devices`` blocks), for 32- and 48-character paper.

The server sends *what* a job says (a kitchen ticket's lines, a bill's order and totals); the
bridge decides how it looks, because only the bridge knows the paper. Every layout is a pure
function of the document and the width, so tests compare text, not bytes.

A job printed as a COPY (a reprint, or one whose first attempt may already be on paper) says
COPY in large type at the top and again at the bottom; one printed on a backup printer says
which station it stands in for. A document missing what its layout needs raises
``LayoutError``: the job is reported failed rather than printed wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge._bill import bill
from bridge._job import SpooledJob
from bridge._kitchen import kitchen_ticket
from bridge._paper import Blocks
from bridge._receipts import receipt, refund_receipt
from bridge._report import report
from bridge.errors import LayoutError
from devices import Cut, Text

__all__ = ["render"]

_LAYOUTS: dict[str, Callable[[dict[str, Any], int], Blocks]] = {
    "kitchen_ticket": kitchen_ticket, "bill": bill, "receipt": receipt, "refund_receipt": refund_receipt,
    "report": report,
}


def render(job: SpooledJob, chars: int, *, copy: bool, backup_for: str | None = None) -> Blocks:
    """The blocks that print ``job`` on paper ``chars`` columns wide.

    Raises:
        LayoutError: the job's kind has no layout, or its document lacks what it needs.
    """
    layout = _LAYOUTS.get(job.kind)
    if layout is None:
        raise LayoutError(f"no layout for {job.kind!r} jobs")
    try:
        body = layout(job.document, chars)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LayoutError(f"the {job.kind} document is malformed: {type(exc).__name__}: {exc}") from None
    head: Blocks = []
    if copy:
        head.append(Text("COPY", bold=True, double=True, align="center"))
    if backup_for:
        head.append(Text(f"(backup printer for {backup_for})", align="center"))
    tail: Blocks = [Text("-- COPY --", bold=True, align="center")] if copy else []
    return [*head, *body, *tail, Cut()]
