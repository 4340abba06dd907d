"""PNG rendering through kaleido 1.x and the system Chromium, with one server reused per process.

Starting Chromium costs seconds; a started kaleido server renders an image in a fraction of a
second (DESIGN §7), so the server starts on the first PNG request and stays up until exit.
plotly.js comes from the installed plotly package and MathJax is off, so nothing is fetched from
a CDN; charts avoid plotly features that need downloads (geo topojson, map tiles).
"""

from __future__ import annotations

import atexit
import base64
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from core.errors import ConfigError

log = logging.getLogger(__name__)

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_lock = threading.Lock()
_started = False


def find_chromium() -> str | None:
    """The Chromium executable kaleido drives, or None when none is installed."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _ensure_server() -> None:
    global _started
    if _started:
        return
    chromium = find_chromium()
    if chromium is None:
        raise ConfigError(
            "PNG export needs Chromium (apt-get install chromium); the plotly JSON still works",
            searched=list(CHROMIUM_CANDIDATES),
        )
    import kaleido

    kaleido.start_sync_server(
        n=1,
        timeout=60,
        plotlyjs=str(_plotly_js()),
        mathjax=False,
        path=chromium,
        headless=True,
        silence_warnings=True,
    )
    atexit.register(stop_server)
    _started = True
    log.info("kaleido server started with %s", chromium)


def stop_server() -> None:
    """Stop the shared kaleido server (it restarts on the next PNG request)."""
    global _started
    with _lock:
        if not _started:
            return
        import kaleido

        kaleido.stop_sync_server(silence_warnings=True)
        _started = False


def render_png(
    figure: dict[str, Any], *, width: int = 900, height: int = 520, scale: float = 1.0
) -> str:
    """The figure as a PNG image, base64-encoded."""
    with _lock:
        _ensure_server()
        import kaleido

        try:
            image = kaleido.calc_fig_sync(
                figure, opts={"format": "png", "width": width, "height": height, "scale": scale}
            )
        except Exception as exc:  # kaleido raises plain errors from the browser side
            raise ConfigError(f"PNG export failed in Chromium: {exc}") from exc
    if not isinstance(image, bytes) or not image.startswith(PNG_SIGNATURE):
        raise ConfigError("PNG export returned something that is not a PNG image")
    return base64.b64encode(image).decode("ascii")
