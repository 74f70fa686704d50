"""Which printer a job goes to: by station, and for a drawer kick, by the drawer's printer."""

from __future__ import annotations

from typing import Literal

from bridge._config_model import BridgeConfig, DrawerConfig
from bridge._job import SpooledJob

__all__ = ["DRAWER_KICK", "drawer_pin", "route"]

DRAWER_KICK = "drawer_kick"


def route(config: BridgeConfig, job: SpooledJob) -> tuple[str | None, str]:
    """The printer for ``job``, or None and why not (the job is then reported failed)."""
    if job.kind == DRAWER_KICK:
        drawer = _drawer_for(config, job)
        if drawer is None:
            return None, f"no cash drawer for station {job.station!r} in this bridge's config"
        return drawer.printer, ""
    printer = config.serving(job.station)
    if printer is None:
        return None, f"no printer serves station {job.station!r} in this bridge's config"
    return printer.name, ""


def drawer_pin(config: BridgeConfig, job: SpooledJob) -> Literal[2, 5]:
    drawer = _drawer_for(config, job)
    return drawer.pin if drawer is not None else 2


def _drawer_for(config: BridgeConfig, job: SpooledJob) -> DrawerConfig | None:
    """Named by the job (``document.drawer``, or its station), else the drawer on the printer
    serving its station, else the venue's only drawer."""
    named = job.document.get("drawer") or job.station
    drawers = config.drawers
    found = next((d for d in drawers if d.name == named), None)
    printer = config.serving(job.station)
    if found is None and printer is not None:
        found = next((d for d in drawers if d.printer == printer.name), None)
    return found if found is not None or len(drawers) != 1 else drawers[0]
