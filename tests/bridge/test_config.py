"""The config file: every mistake reported with its line before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.__main__ import main
from bridge.config import load_config, parse_config
from bridge.errors import BridgeConfigError
from bridge.transport_url import parse_transport

GOOD = """\
server = "https://pos.example.com"
token = "fyb_abc"

[[printers]]
name = "kitchen-1"
stations = ["kitchen"]
transport = "tcp://10.0.0.31:9100"
backup = "bar-1"

[[printers]]
name = "bar-1"
stations = ["bar", "receipt"]
transport = "serial:///dev/ttyUSB0?baud=38400"
width = 58

[[drawers]]
name = "till-1"
printer = "bar-1"
pin = 5

[[scanners]]
name = "bar-scanner"
transport = "socket://10.0.0.40:4001"
terminal_id = "77841fa8-2571-42d0-8d4d-fb498d2568ae"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(BridgeConfigError) as caught:
        parse_config(text, "bridge.toml")
    return caught.value.problems


def test_a_good_config_reads_as_written() -> None:
    config = parse_config(GOOD)
    kitchen, bar = config.printers
    assert kitchen.transport.host == "10.0.0.31" and kitchen.transport.port == 9100 and kitchen.chars == 48
    assert bar.transport.device == "/dev/ttyUSB0" and bar.transport.baud == 38400 and bar.chars == 32
    assert config.serving("receipt") is bar and config.serving("kitchen") is kitchen and kitchen.backup == "bar-1"
    assert config.drawers[0].pin == 5 and config.scanners[0].transport.kind == "socket"
    assert str(config.spool) == "var/bridge-spool.sqlite3" and config.timing.reconnect_max == 30
    assert config.warnings == ()


def test_each_mistake_is_reported_with_its_line() -> None:
    broken = (GOOD.replace('backup = "bar-1"', 'backup = "bar-2"')
              .replace("width = 58", "width = 57\nwidht = 58")
              .replace('name = "till-1"', 'name = "kitchen-1"')
              .replace("pin = 5", "pin = 3")
              .replace("socket://10.0.0.40:4001", "socket://10.0.0.40")
              .replace('"77841fa8-2571-42d0-8d4d-fb498d2568ae"', '"till one"'))
    found = problems(broken)
    assert found == [
        "bridge.toml:8: printers[1].backup: 'bar-2' is not a printer here (printers: kitchen-1, bar-1)",
        "bridge.toml:14: printers[2].width: must be 58 or 80 (paper width in mm), not 57",
        "bridge.toml:15: printers[2].widht: unknown key (did you mean 'width'?)",
        "bridge.toml:18: drawers[1].name: 'kitchen-1' is already the name of one of the printers",
        "bridge.toml:20: drawers[1].pin: must be 2 or 5 (the drawer connector pin), not 3",
        "bridge.toml:24: scanners[1].transport: 'socket://10.0.0.40' needs a port: socket://host:port",
        "bridge.toml:25: scanners[1].terminal_id: must be the terminal's UUID (POST /api/v1/terminals gives it)",
    ]


def test_a_keyboard_wedge_scanner_is_a_usb_hid_address() -> None:
    hid = GOOD.replace("socket://10.0.0.40:4001", "usb-hid://0c2e:0b61")
    spec = parse_config(hid).scanners[0].transport
    assert (spec.kind, spec.vendor_id, spec.product_id) == ("usb-hid", 0x0C2E, 0x0B61)
    assert problems(hid.replace("0c2e:0b61", "0c2e")) == [
        ("bridge.toml:23: scanners[1].transport: 'usb-hid://0c2e' must be usb-hid://VID:PID in hex, "
         "e.g. usb-hid://0c2e:0b61")]


def test_a_syntax_error_names_its_line() -> None:
    assert problems('server = "x"\n[[printers]\nname = "k"\n')[0].startswith("bridge.toml:2: not valid TOML")


def test_two_printers_for_one_station_and_missing_fields_are_refused() -> None:
    text = ('[[printers]]\nname = "a"\nstations = ["kitchen"]\ntransport = "tcp://h"\n'
            '[[printers]]\nstations = ["kitchen"]\ntransport = "usb://zz"\n')
    found = problems(text)
    assert "bridge.toml:5: printers[2]: name is missing" in found
    assert ("bridge.toml:7: printers[2].transport: 'usb://zz' must be usb://VID:PID in hex, e.g. usb://04b8:0202"
            in found)
    text = text.replace('transport = "usb://zz"', 'name = "b"\ntransport = "usb://04b8:0202"')
    assert problems(text) == [("bridge.toml:6: printers[2].stations: station 'kitchen' is already served by 'a'; "
                               "a second printer for it is a backup = …")]


def test_a_station_no_printer_serves_is_a_warning() -> None:
    config = parse_config('[[printers]]\nname = "k"\nstations = ["kitchen", "patio"]\ntransport = "tcp://h:9100"\n')
    assert any("station 'patio' is not one the server sends to" in w for w in config.warnings)
    assert any("no printer serves station 'bar'" in w for w in config.warnings)


@pytest.mark.parametrize("url, message", [
    ("lpt://x", "is not a device address I know"),
    ("tcp://:9100", "has no host"),
    ("tcp://h:99999", "bad port"),
    ("serial://dev/ttyUSB0", "must name a device path"),
    ("serial:///dev/ttyUSB0?baud=1234", "baud must be one of"),
    ("serial:///dev/ttyUSB0?parity=E", "unknown option 'parity'"),
])
def test_bad_device_addresses(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_transport(url)


def test_usb_ids_are_hex() -> None:
    spec = parse_transport("usb://04b8:0e15")
    assert (spec.vendor_id, spec.product_id) == (0x04B8, 0x0E15)


def test_fynlo_bridge_exits_2_on_a_config_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(GOOD.replace("width = 58", "width = 60"))
    assert main(["--config", str(path)]) == 2
    assert f"{path}:14: printers[2].width: must be 58 or 80" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_server_and_token_come_from_the_command_line_the_environment_or_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text(GOOD.replace('server = "https://pos.example.com"\ntoken = "fyb_abc"\n', ""))
    assert main(["--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "no server URL" in err and "no bridge token" in err
    monkeypatch.setenv("FYNLO_BRIDGE_TOKEN", "fyt_a_terminal_token")
    assert main(["--config", str(path), "--server", "http://127.0.0.1:8000", "--check"]) == 2
    assert "not a bridge token" in capsys.readouterr().err
    monkeypatch.setenv("FYNLO_BRIDGE_TOKEN", "fyb_ok")
    assert main(["--", "--config", str(path), "--server", "http://127.0.0.1:8000", "--check"]) == 0
    out = capsys.readouterr().out
    assert "printer kitchen-1: kitchen on tcp://10.0.0.31:9100, 80 mm, backup bar-1" in out
    assert load_config(path).server is None


def test_the_example_in_the_operations_guide_is_a_good_config() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Installing a bridge in a venue"):]
    example = section[section.index("```toml") + len("```toml"):]
    config = parse_config(example[:example.index("```")], "operations.md")
    assert [p.name for p in config.printers] == ["kitchen-1", "bar-1"] and config.warnings == ()
    assert config.timing.failover_after == 10 and config.scanners[0].terminal_id


def test_a_keyboard_address_on_a_printer_is_refused() -> None:
    text = '[[printers]]\nname = "a"\nstations = ["kitchen"]\ntransport = "usb-hid://0c2e:0b61"\n'
    assert problems(text) == ["bridge.toml:4: printers[1].transport: usb-hid:// is for scanners (a keyboard); "
                              "a USB printer is usb://vendor:product"]
