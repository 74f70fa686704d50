"""Simulators that drive a Fynlo server from outside, through the protocols a real client uses.

Imports nothing of `fynlo` but the pure wire module (ARCHITECTURE.md, "The wire"), with one
deliberate exception outside this package's public face: sim/floor.py, the benchmark's floor,
which by definition commits through the project's own database layer (`fynlo.db`). The
benchmark (sim/bench.py) sets its database up by running bench/seed.py as a process of its
own, and otherwise drives the server from outside, like every simulator here.
"""

from sim.client import TerminalClient as TerminalClient, ws_url as ws_url
from sim.errors import (CommandFailed as CommandFailed, HandshakeRefused as HandshakeRefused,
                        LoginFailed as LoginFailed, ServerUnreachable as ServerUnreachable, SimError as SimError,
                        TerminalClosed as TerminalClosed)
from sim.events import Anomaly as Anomaly
from sim.replies import CommandTiming as CommandTiming
from sim.terminals import run_terminals as run_terminals
