"""The venue bridge: ``fynlo bridge`` drives a venue's printers, cash drawers and scanners.

It dials out to the server's ``/ws/bridge`` and turns print jobs into paper, printing each
at most once as an original (ARCHITECTURE.md, "Hardware bridge"). Imports ``devices`` and
``fynlo.wire``, nothing else of ours.

    config.py      the TOML config, checked with line numbers before anything starts
    spool.py       the durable SQLite record of every job: what "printed once" rests on
    link.py        the WebSocket: hello, welcome, reconnects with backoff and jitter
    courier.py     over the link: pull jobs into the spool, report outcomes and devices
    dispatcher.py  one queue and one task per printer: retries, backup printers, status
    layout.py      job documents → paper, for 58 and 80 mm
    hardware.py    printers and scanners from their addresses (tcp, serial, socket, usb)
    app.py         all of it assembled (``Bridge``); __main__.py is the command line
"""
