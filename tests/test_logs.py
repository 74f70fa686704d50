import json
import logging

from fynlo.logs import JsonFormatter, command_context


def test_log_lines_are_json_carrying_the_command() -> None:
    record = logging.LogRecord("fynlo.commands", logging.INFO, __file__, 1, "command", None, None)
    record.ok = False
    with command_context("c0ffee00-0000-4000-8000-000000000001", "venue.update", "venue-1", "staff-1"):
        line = JsonFormatter().format(record)
    out = json.loads(line)
    assert out["command_id"] == "c0ffee00-0000-4000-8000-000000000001"
    assert out["command"] == "venue.update" and out["venue_id"] == "venue-1" and out["staff_id"] == "staff-1"
    assert out["ok"] is False and out["level"] == "info" and out["msg"] == "command"
    # outside a command nothing leaks from the last one
    assert "command_id" not in json.loads(JsonFormatter().format(record))
