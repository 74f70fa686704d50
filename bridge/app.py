"""The bridge assembled: spool, dispatcher, courier (with its link) and scanner tasks.

Start order matters and is the reverse of what must outlive what: the spool opens first
(recovering what a crash left ``printing``) and closes last; the dispatcher queues what the
spool still holds before the courier pulls anything new, so spooled jobs keep their order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import trio

from bridge._config_model import BridgeConfig
from bridge._printer_state import PrinterPort
from bridge.courier import Courier
from bridge.dispatcher import Dispatcher
from bridge.hardware import make_printers, make_transport, watch_scanner
from bridge.link import Link
from bridge.reports import Reports
from bridge.spool import Spool
from devices import Transport

__all__ = ["Bridge"]

log = logging.getLogger("fynlo.bridge")


class Bridge:
    """One venue bridge. ``await nursery.start(bridge.run)`` returns once it is running.

    ``printers`` and ``scanners`` replace the devices the config names (by name), for tests
    that put a fault between the bridge and a simulator.
    """

    def __init__(self, config: BridgeConfig, *, printers: Mapping[str, PrinterPort] | None = None,
                 scanners: Mapping[str, Transport] | None = None) -> None:
        if not config.server or not config.token:
            raise ValueError("the bridge needs a server URL and a token")
        self.config, self._server, self._token = config, config.server, config.token
        self._printers = printers
        self._scanners = scanners or {}
        self.reports = Reports()
        self.link: Link | None = None
        self.dispatcher: Dispatcher | None = None

    async def run(self, *, task_status: trio.TaskStatus[Bridge] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled.

        Raises:
            SpoolLocked: another bridge holds the spool file.
        Cancellation: a job being sent is marked ``unknown`` (it may be half on paper); the
            spool is closed.
        """
        config = self.config
        async with Spool.open(config.spool) as spool:
            for job in spool.recovered:
                log.warning("%s %s was being printed when the bridge stopped: unknown, reprinted only as a COPY",
                            job.kind, job.job_id)
            printers: Mapping[str, PrinterPort] = {**make_printers(config), **(self._printers or {})}
            self.dispatcher = Dispatcher(config, spool, printers, self.reports)
            courier = Courier(self._server, self._token, spool, config.timing, self.reports,
                              accept=self.dispatcher.submit)
            self.link = courier.link
            async with trio.open_nursery() as nursery:
                await nursery.start(self.dispatcher.run)
                await nursery.start(courier.run)
                for scanner in config.scanners:
                    transport = self._scanners.get(scanner.name) or make_transport(scanner.transport, config.timing)
                    nursery.start_soon(watch_scanner, scanner, transport, self.reports, config.timing)
                log.info("bridge running: %d printer(s), %d drawer(s), %d scanner(s); server %s",
                         len(config.printers), len(config.drawers), len(config.scanners), config.server)
                task_status.started(self)
