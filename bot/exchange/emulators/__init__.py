"""Venue emulators: HTTP facades of ``bot.exchange.venue.SimVenue`` in a venue's own dialect,
so unmodified ccxt clients (and the live adapters) are tested and demoed offline.

One sub-package per dialect (``binance_usdm/``, ``hyperliquid/``), each split by concern:
wire format, auth, faults, routes. What every dialect shares lives here:

- ``base``: ``serve_app(app, host, port, name=) -> RunningServer`` (``url``, ``port``,
  ``close()``), ``serve_until_signal(close)`` for standalone processes.
- ``admin``: the admin API as a typed table. ``AdminAction(name, apply, help)``,
  ``AdminTable(actions, result=)`` (``run(name, body) -> dict``, ``add(...)``, ``names``),
  ``add_admin_routes(app, table, state)`` serving ``POST /_emulator/{action}`` (JSON object
  body, 400 ``{"ok": false, "error"}`` on a malformed one) and ``GET /_emulator/state``;
  ``admin_number``/``admin_int``/``admin_text``, the one parser of admin values.
- ``clock``: ``AdvancingClock`` (a ``Clock`` with ``advance(seconds)``), ``OffsetClock``
  (wall clock plus an offset ``advance`` grows: standalone emulators), ``advance_clock``.
"""
