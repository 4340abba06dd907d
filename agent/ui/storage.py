"""Element files on the local disk, so a resumed thread shows its tables and charts again.

Chainlit's SQLAlchemy data layer persists an element (a dataframe, a plotly figure, a CSV) only
through a storage client; without one, history keeps the text and drops the rest. This client
writes each element under `<data_dir>/ui/elements/<user id>/<element id>/<name>` and hands the
page a same-origin URL, served by a route that checks the signed-in user owns the element's thread.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from chainlit.data.storage_clients.base import BaseStorageClient

log = logging.getLogger(__name__)

ROUTE: Final = "/encore/elements"
_INERT: Final = frozenset({"application/json", "text/csv", "text/plain"})
_MIME_SUFFIX: Final = ".mime-type"
_SAFE_HEADERS: Final = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


class LocalStorageClient(BaseStorageClient):
    """Chainlit's storage interface over a local folder (the embedded default of S3, GCS, Azure)."""

    def __init__(self, root: Path, url_prefix: str = "") -> None:
        self.root = root.resolve()
        self.url_prefix = url_prefix.rstrip("/") + ROUTE

    def path_of(self, object_key: str) -> Path:
        """The file of an object key; a key that would leave the root is refused."""
        path = (self.root / object_key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"object key outside the element store: {object_key!r}")
        return path

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        path = self.path_of(object_key)
        if path.exists() and not overwrite:
            return {"object_key": object_key, "url": await self.get_read_url(object_key)}
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        path.chmod(0o600)
        # the page reads a chart as JSON and a dataframe as text: each goes back as it came
        _mime_file(path).write_text(mime, encoding="utf-8")
        return {"object_key": object_key, "url": await self.get_read_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        try:
            path = self.path_of(object_key)
        except ValueError:
            return False
        path.unlink(missing_ok=True)
        _mime_file(path).unlink(missing_ok=True)
        return True

    async def get_read_url(self, object_key: str) -> str:
        return f"{self.url_prefix}/{quote(object_key)}"

    async def close(self) -> None:
        return None

    def mime_of(self, object_key: str) -> str:
        """The type an element was stored with; anything not inert is served as bytes."""
        sidecar = _mime_file(self.path_of(object_key))
        mime = sidecar.read_text(encoding="utf-8").strip() if sidecar.is_file() else ""
        return mime if mime in _INERT else "application/octet-stream"


def _mime_file(path: Path) -> Path:
    return path.with_name(path.name + _MIME_SUFFIX)


_OWNER_SQL: Final = (
    'SELECT t."userIdentifier" AS owner FROM elements e JOIN threads t ON t."id" = e."threadId" '
    'WHERE e."objectKey" = :key'
)


async def owner_of(object_key: str) -> str | None:
    """The identifier of the user whose thread holds the element stored under `object_key`.

    Asked of the history rather than read from the key: Chainlit names keys `<user id>/...` from
    the thread's user at upload time, which is `unknown` when an answer beats the thread's save.
    """
    from chainlit.data import get_data_layer

    layer = get_data_layer()  # type: ignore[no-untyped-call]
    execute = getattr(layer, "execute_sql", None)
    if execute is None:
        return None
    rows = await execute(_OWNER_SQL, {"key": object_key})
    return str(rows[0]["owner"]) if isinstance(rows, list) and rows else None


def install(storage: LocalStorageClient, root_path: str = "") -> None:
    """Serve stored elements to their owner at `<root_path>/encore/elements/<key>` (idempotent).

    The route goes first: Chainlit's catch-all page route would otherwise answer these URLs.
    """
    import chainlit.server
    from chainlit.auth import get_current_user
    from fastapi import Depends, HTTPException
    from fastapi.responses import FileResponse
    from fastapi.routing import APIRoute

    app = chainlit.server.app
    path = root_path.rstrip("/") + ROUTE + "/{object_key:path}"
    if any(getattr(route, "path", None) == path for route in app.router.routes):
        return

    async def element_file(object_key: str, user: Any = Depends(get_current_user)) -> Any:  # noqa: B008
        if user is None or await owner_of(object_key) != user.identifier:
            raise HTTPException(status_code=404, detail="Not found")
        try:
            file = storage.path_of(object_key)
        except ValueError as exc:
            raise HTTPException(status_code=404, detail="Not found") from exc
        if not file.is_file() or file.name.endswith(_MIME_SUFFIX):
            raise HTTPException(status_code=404, detail="Not found")
        # only inert types go out as themselves, and a stored upload never runs as a page here
        return FileResponse(file, media_type=storage.mime_of(object_key), headers=_SAFE_HEADERS)

    app.router.routes.insert(0, APIRoute(path, element_file, methods=["GET"]))
