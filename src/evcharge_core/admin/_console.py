"""The web console: hand-written HTML, CSS and JavaScript modules, shipped as package data
in ``evcharge_core/admin/console/`` and served by the admin app.

``GET /`` is the console's page (``console/index.html``) and ``GET /console/{path}`` its
files. Neither needs the token: they hold no data, and the page asks for the token itself
and sends it as ``Authorization: Bearer`` on every call to ``/api/``. There is no build
step: the files are served as they are in the package.

Every file is read once, when the app is created (:func:`load_console`), and served from
memory with:

* an explicit content type by suffix (:data:`CONTENT_TYPES`; a file of another kind is not
  served), never a guess from the platform's MIME table;
* a strict Content-Security-Policy (:data:`CONTENT_SECURITY_POLICY`): scripts, styles and
  connections only from the same origin, images from the same origin or ``blob:`` (QR
  codes are fetched with the token and shown through object URLs), no inline script or
  style, no frames, no plug-ins, no form posts, no ``<base>``;
* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``X-Frame-Options: DENY``;
* an ``ETag`` with ``Cache-Control: no-cache``: a browser revalidates on each load (a 304
  when nothing changed), so an upgraded package is never shown with stale scripts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._http import ProblemError, http_problem
from ._metrics import ROUTE_SCOPE_KEY

__all__ = [
    "CONSOLE_PREFIX",
    "CONTENT_SECURITY_POLICY",
    "CONTENT_TYPES",
    "SECURITY_HEADERS",
    "Console",
    "ConsoleFile",
    "console_routes",
    "load_console",
]

CONSOLE_PREFIX: Final = "/console/"
"""Where the console's files are served (the page itself is ``/``)."""

CONTENT_TYPES: Final[Mapping[str, str]] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
"""The content type of each kind of file the console ships; files of other kinds are not
served."""

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
"""Same-origin scripts, styles, images and connections only (``blob:`` images for the QR
codes fetched with the token); nothing inline, nothing framed, nothing else."""

SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
"""The headers every console file is served with."""

_INDEX: Final = "index.html"


@attrs.frozen
class ConsoleFile:
    """One file of the console, as served."""

    path: str
    """Its path under the console directory, ``/``-separated (``views/map.js``)."""
    content: bytes
    content_type: str
    etag: str
    """A strong validator: the quoted start of the content's SHA-256."""


@attrs.frozen
class Console:
    """The console's files by path."""

    files: Mapping[str, ConsoleFile]

    def get(self, path: str) -> ConsoleFile | None:
        """The file at ``path``, or ``None``."""
        return self.files.get(path)


def _walk(directory: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        elif entry.is_file():
            yield f"{prefix}{entry.name}", entry


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[name.rfind(".") :] if "." in name else ""


def load_console(directory: Traversable | None = None) -> Console:
    """Read the console's files (default: the package's ``admin/console`` directory), those
    of a kind in :data:`CONTENT_TYPES`; names starting with ``.`` or ``_`` are skipped."""
    root = directory
    if root is None:
        root = resources.files("evcharge_core.admin") / "console"
    files: dict[str, ConsoleFile] = {}
    for path, entry in _walk(root):
        content_type = CONTENT_TYPES.get(_suffix(path))
        if content_type is None:
            continue
        content = entry.read_bytes()
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        files[path] = ConsoleFile(path, content, content_type, etag)
    return Console(files)


def _matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110)."""
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _serve(request: Request, file: ConsoleFile) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": file.etag}
    if _matches(request.headers.get("if-none-match", ""), file.etag):
        return Response(status_code=304, headers=headers)
    return Response(file.content, media_type=file.content_type, headers=headers)


def console_routes(console: Console) -> list[BaseRoute]:
    """The Starlette routes serving ``console``: ``/`` and ``/console/{path}`` (GET and
    HEAD, no token). A path the console has no file for is a 404 problem."""

    async def page(request: Request) -> Response:
        request.scope[ROUTE_SCOPE_KEY] = "/"
        file = console.get(_INDEX)
        if file is None:
            return _missing(f"the console is not installed ({_INDEX} is missing)")
        return _serve(request, file)

    async def asset(request: Request) -> Response:
        request.scope[ROUTE_SCOPE_KEY] = CONSOLE_PREFIX + "{path}"
        path: str = request.path_params["path"]
        file = console.get(path)
        if file is None:
            return _missing(f"the console has no file {path!r}")
        return _serve(request, file)

    return [
        Route("/", page, methods=["GET"], name="console"),
        Route(CONSOLE_PREFIX + "{path:path}", asset, methods=["GET"], name="console-file"),
    ]


def _missing(detail: str) -> Response:
    try:
        http_problem(404, detail)
    except ProblemError as problem:
        return problem.response()
