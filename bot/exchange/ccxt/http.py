"""Bounded HTTP for the ccxt client: no venue answer is read past a size limit or parsed past
the interpreter's recursion limit.

ccxt async reads each response whole (``response.text()``) and parses it with ``json.loads``.
Two hooks bound that without touching ccxt: the aiohttp session it is given uses a response
class that stops reading at ``max_bytes``, and the client's ``on_json_response`` parses with
``bot.safety.loads_bounded``. Both refuse with ``ccxt.BadResponse``, which ccxt lets through
unchanged and the adapter maps to ``VenueDataError``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import ccxt

from bot.safety import PayloadRejected, loads_bounded

__all__ = ["bounded_json_parser", "bounded_session"]

_CHUNK = 64 * 1024


def _response_class(max_bytes: int) -> type[aiohttp.ClientResponse]:
    class BoundedResponse(aiohttp.ClientResponse):
        """Reads at most ``max_bytes`` of a body; more is ``ccxt.BadResponse``."""

        async def read(self) -> bytes:
            if self._body is None:
                declared = self.content_length
                if declared is not None and declared > max_bytes:
                    self.close()
                    raise ccxt.BadResponse(_too_large(declared, max_bytes))
                chunks: list[bytes] = []
                size = 0
                while chunk := await self.content.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        self.close()
                        raise ccxt.BadResponse(_too_large(size, max_bytes))
                    chunks.append(chunk)
                self._body = b"".join(chunks)
            return await super().read()

    return BoundedResponse


def _too_large(size: int, max_bytes: int) -> str:
    return f"venue response of {size}+ bytes refused (limit {max_bytes})"


def bounded_session(max_bytes: int) -> aiohttp.ClientSession:
    """An aiohttp session for ccxt (``config['session']``) whose responses stop at
    ``max_bytes``. The caller closes it (ccxt does not close a session it was given)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(enable_cleanup_closed=True),
        response_class=_response_class(max_bytes),
    )


def bounded_json_parser(max_bytes: int) -> Any:
    """A replacement for ccxt's ``on_json_response``: bounded JSON, ``ccxt.BadResponse`` on
    a body that is too large, too deeply nested, not JSON or holds NaN/Infinity."""

    def parse(body: str) -> Any:
        try:
            return loads_bounded(body, max_bytes=max_bytes, max_depth=None)
        except PayloadRejected as exc:
            raise ccxt.BadResponse(f"venue response refused: {exc}") from None

    return parse
