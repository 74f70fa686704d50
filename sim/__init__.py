"""Simulators that drive a Fynlo server from outside, through the protocols a real client uses.

Imports nothing of `fynlo` but the pure wire module (ARCHITECTURE.md, "The wire").
"""

from sim.client import TerminalClient as TerminalClient, ws_url as ws_url
from sim.errors import (CommandFailed as CommandFailed, HandshakeRefused as HandshakeRefused,
                        LoginFailed as LoginFailed, ServerUnreachable as ServerUnreachable, SimError as SimError,
                        TerminalClosed as TerminalClosed)
from sim.events import Anomaly as Anomaly
from sim.replies import CommandTiming as CommandTiming
from sim.terminals import run_terminals as run_terminals
