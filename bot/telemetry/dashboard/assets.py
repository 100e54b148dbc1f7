"""Static files of the dashboards: our own (package data, ``static/``) and uPlot.

uPlot comes from npm (``package.json``, exact version, installed by ``make setup``'s ``npm
ci``) and is served from ``node_modules/uplot/dist`` at run time: no CDN, works offline. The
directory is found beside the source tree, or named by ``HEDGEBOT_UPLOT_DIR``; without it the
pages still show every number, only the charts say that uPlot is missing.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from aiohttp import web

__all__ = [
    "STATIC_DIR",
    "add_asset_routes",
    "render_page",
    "serve_favicon",
    "serve_static",
    "serve_vendor",
    "uplot_dir",
]

STATIC_DIR = Path(__file__).parent / "static"
UPLOT_ENV = "HEDGEBOT_UPLOT_DIR"
_VENDOR_FILES = {"uplot.js": "uPlot.iife.min.js", "uplot.css": "uPlot.min.css"}
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def uplot_dir() -> Path | None:
    """``node_modules/uplot/dist`` of the source tree (or ``$HEDGEBOT_UPLOT_DIR``), if present."""
    named = os.environ.get(UPLOT_ENV)
    candidates = [Path(named)] if named else []
    candidates += [parent / "node_modules" / "uplot" / "dist" for parent in Path(__file__).parents]
    return next((c for c in candidates if (c / "uPlot.iife.min.js").is_file()), None)


def render_page(name: str, values: dict[str, str]) -> web.Response:
    """``static/<name>`` with each ``{{KEY}}`` replaced by its HTML-escaped value."""
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value, quote=True))
    return web.Response(text=text, content_type="text/html", headers=_SECURITY_HEADERS)


def _file(path: Path) -> web.StreamResponse:
    if not path.is_file():
        raise web.HTTPNotFound
    headers = {**_SECURITY_HEADERS, "Content-Type": _TYPES.get(path.suffix, "text/plain")}
    return web.FileResponse(path, headers=headers)


async def serve_static(request: web.Request) -> web.StreamResponse:
    """``/static/{name}``: one of our files (a bare name: no directories, no dot files)."""
    name = request.match_info["name"]
    if "/" in name or name.startswith(".") or Path(name).suffix not in _TYPES:
        raise web.HTTPNotFound
    return _file(STATIC_DIR / name)


async def serve_vendor(request: web.Request) -> web.StreamResponse:
    """``/vendor/uplot.js`` and ``/vendor/uplot.css`` from the npm package."""
    name = _VENDOR_FILES.get(request.match_info["name"])
    where = uplot_dir()
    if name is None or where is None:
        raise web.HTTPNotFound
    return _file(where / name)


async def serve_favicon(_request: web.Request) -> web.StreamResponse:
    """``/favicon.ico`` and ``/favicon.svg``: our SVG icon (browsers accept SVG for both)."""
    return _file(STATIC_DIR / "favicon.svg")


def add_asset_routes(app: web.Application) -> None:
    """``/static/{name}``, ``/vendor/{name}`` and the favicon on ``app``."""
    app.router.add_get("/static/{name}", serve_static)
    app.router.add_get("/vendor/{name}", serve_vendor)
    app.router.add_get("/favicon.ico", serve_favicon)
    app.router.add_get("/favicon.svg", serve_favicon)


def security_headers() -> dict[str, str]:
    """Headers every dashboard answer carries (CSP: scripts only from this origin)."""
    return dict(_SECURITY_HEADERS)
