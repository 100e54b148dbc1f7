r"""An HTTP facade of ``SimVenue`` speaking the Binance USD-M futures REST dialect.

An unmodified ccxt ``binanceusdm`` client whose ``urls['api']`` point here trades against the
simulated venue, so the live adapter (``bot.exchange.ccxt``) is tested and demoed offline::

    client = ccxt.async_support.binanceusdm({"apiKey": key, "secret": secret})
    client.urls["api"].update(handle.ccxt_urls())   # or the dict printed by `hedgebot emulator`

Signed endpoints check ``X-MBX-APIKEY``, ``timestamp``/``recvWindow`` against the server's
own clock (``/fapi/v1/time``) and the HMAC-SHA256 ``signature`` the way Binance does
(``auth``); errors are Binance JSON (``{"code": -2019, ...}``) with Binance's HTTP statuses,
from the one code table ``bot.exchange.binance_codes`` (``wire``). Only one-way mode, one
symbol and MARKET, LIMIT-IOC and LIMIT-GTC orders exist; a GTC order that does not cross
rests (``openOrders``, cancel) until the mark reaches it.

Modules: ``wire`` (errors, decimals, parameter parsing), ``auth``, ``faults`` (the switches
as a typed admin table), ``context`` (venue, clocks, symbol), routes in ``market``,
``account``, ``orders`` and ``entry``, ``server`` (assembly, ``start_emulator``), ``handle``
(``EmulatorHandle``: one method per switch).

Fault switches (methods on ``EmulatorHandle`` and unsigned ``POST /_emulator/...``): drop the
response of the next accepted order, answer 429 to N requests (optionally after M answered
normally), answer the next order (or any one endpoint) with an HTTP 5xx Binance error without
acting on it, add latency, force the next IOC order to fill partially, set mark and funding
rate, advance the clock; and hostile or broken answers: position rows with fields nulled or
removed, leverage changes refused (-2027), a server clock behind the host's (-1021 for an
unsynced client), the next answer a deeply nested or an oversized JSON body.
"""

from bot.exchange.emulators.binance_usdm.faults import (
    EmulatorFaults,
    HostileAnswer,
    RequestFailure,
)
from bot.exchange.emulators.binance_usdm.handle import EmulatorHandle
from bot.exchange.emulators.binance_usdm.server import BinanceFuturesEmulator, start_emulator
from bot.exchange.emulators.binance_usdm.wire import BinanceError, ccxt_urls

__all__ = [
    "BinanceError",
    "BinanceFuturesEmulator",
    "EmulatorFaults",
    "EmulatorHandle",
    "HostileAnswer",
    "RequestFailure",
    "ccxt_urls",
    "start_emulator",
]
