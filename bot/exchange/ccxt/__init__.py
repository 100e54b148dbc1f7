"""The ccxt adapter (``PerpExchange`` for linear perpetuals), split by concern.

- ``settings``: ``CcxtPerpSettings``, ``AccountSetup`` and the per-exchange venue switches.
- ``client``: ``build_client(settings, clock)``, the ccxt client with those switches applied.
- ``calls``: ``CcxtCalls``, the I/O core; ccxt exceptions become ``bot.errors`` there only
  (through ``errors.map_ccxt_error`` and the Binance code table).
- ``account``: start-up checks and settings (one-way mode, margin mode, leverage).
- ``paging``: history endpoints read page by page.
- ``fields``/``parse``/``history``/``raw``: pure validation of ccxt answers (no I/O).
- ``http``: the bounded aiohttp session and JSON parser ccxt reads through.
- ``adapter``: ``CcxtPerpExchange``, the I/O of one symbol.
"""

from bot.exchange.ccxt.adapter import CcxtPerpExchange
from bot.exchange.ccxt.settings import AccountSetup, CcxtPerpSettings

__all__ = ["AccountSetup", "CcxtPerpExchange", "CcxtPerpSettings"]
