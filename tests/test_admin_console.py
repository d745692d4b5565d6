"""The web console as the admin app serves it: the page and its files, content types, the
Content-Security-Policy, caching, and what the files themselves may reference (the browser
tests, ``test_admin_console_browser.py``, run it)."""

from __future__ import annotations

import re
import warnings
from importlib import resources
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Mount

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.admin import create_app
from evcharge_core.admin._console import (
    CONTENT_SECURITY_POLICY,
    CONTENT_TYPES,
    load_console,
)
from evcharge_core.service import StationService

with warnings.catch_warnings():
    # Import-time deprecations of the test client's dependencies (see test_admin_api.py).
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "console-token"
CONSOLE_DIR = Path(str(resources.files("evcharge_core.admin") / "console"))


@pytest.fixture
def service() -> StationService:
    return StationService(InMemoryRepository(), websocket_base_url="ws://csms.test/ocpp/")


@pytest.fixture
def client(service: StationService) -> TestClient:
    return TestClient(create_app(service, token=TOKEN))


def _console_files() -> list[Path]:
    return sorted(p for p in CONSOLE_DIR.rglob("*") if p.is_file())


def test_the_page_is_served_at_the_root_without_the_token(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="console/app.js"></script>' in response.text
    # The API next to it still needs the token.
    assert client.get("/api/stations").status_code == 401


def test_the_policy_allows_only_same_origin_scripts_styles_and_images() -> None:
    directives = {
        d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in CONTENT_SECURITY_POLICY.split("; ")
    }
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' blob:"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", [p.relative_to(CONSOLE_DIR).as_posix() for p in _console_files()])
def test_every_file_is_served_with_its_content_type(client: TestClient, path: str) -> None:
    response = client.get(f"/console/{path}")
    assert response.status_code == 200, path
    assert response.content == (CONSOLE_DIR / path).read_bytes()
    assert response.headers["content-type"] == CONTENT_TYPES[Path(path).suffix]
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_console_ships_only_kinds_of_file_it_serves() -> None:
    assert _console_files(), "the console's files are missing from the package"
    for path in _console_files():
        assert path.suffix in CONTENT_TYPES, path


def test_every_reference_between_the_files_resolves(client: TestClient) -> None:
    """The page's scripts, styles and icon, and every module import, exist (a file
    forgotten in the package would break the console only in a browser)."""
    page = client.get("/").text
    referenced = set(re.findall(r'(?:src|href)="console/([^"]+)"', page))
    assert {"app.js", "style.css", "print.css", "icon.svg"} <= referenced
    seen: set[str] = set()
    todo = [r for r in referenced if r.endswith(".js")]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        source = client.get(f"/console/{module}")
        assert source.status_code == 200, module
        base = module.rsplit("/", 1)[0] + "/" if "/" in module else ""
        for target in re.findall(r'^import [^;]*?from "([^"]+)";', source.text, re.M | re.S):
            assert target.startswith(("./", "../")), (module, target)
            resolved = Path(base + target).as_posix()
            parts: list[str] = []
            for part in resolved.split("/"):
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            todo.append("/".join(parts))
    for reference in referenced:
        assert client.get(f"/console/{reference}").status_code == 200, reference
    assert {"app.js", "api.js", "dom.js", "ui.js", "views/map.js", "views/station.js"} <= seen
    assert {"views/profiles.js", "views/allocations.js"} <= seen


def test_no_file_loads_anything_from_another_origin() -> None:
    """No CDN, web font or tile server: the machine the console runs on may have no
    internet, and the policy would block them anyway."""
    allowed = {"http://www.w3.org/2000/svg"}  # the SVG namespace, an identifier
    for path in _console_files():
        if path.suffix == ".png":
            continue
        text = path.read_text(encoding="utf-8")
        for found in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text):
            assert found in allowed, f"{path.name} references {found}"
        assert "@import" not in text, path.name
        assert "innerHTML" not in text, path.name  # text goes in as text, never as markup
        assert " style=" not in text, path.name  # inline styles break the policy


def test_a_missing_file_is_a_404_problem_without_the_token(client: TestClient) -> None:
    for path in ("/console/nope.js", "/console/", "/console/%2e%2e/_console.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/not-found")


def test_files_are_revalidated_with_their_etag(client: TestClient) -> None:
    first = client.get("/console/app.js")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = client.get("/console/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/console/app.js", headers={"If-None-Match": "W/" + etag}).status_code == 304
    assert client.get("/console/app.js", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/console/api.js").headers["etag"] != etag


def test_head_is_served(client: TestClient) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_the_console_can_be_left_out(service: StationService) -> None:
    client = TestClient(create_app(service, token=TOKEN, console=False))
    assert client.get("/").status_code == 401  # an unknown route: not revealed
    authorised = client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert authorised.status_code == 404
    assert client.get("/console/app.js").status_code == 401


def test_mounted_under_a_prefix(service: StationService) -> None:
    outer = Starlette(routes=[Mount("/evcharge", app=create_app(service, token=TOKEN))])
    client = TestClient(outer)
    page = client.get("/evcharge/")
    assert page.status_code == 200
    # Relative references: they resolve under the prefix.
    assert 'src="console/app.js"' in page.text
    assert client.get("/evcharge/console/app.js").status_code == 200


def test_requests_are_counted_by_route(service: StationService) -> None:
    registry = CollectorRegistry()
    client = TestClient(create_app(service, token=TOKEN, metrics=registry))
    client.get("/")
    client.get("/console/app.js")
    client.get("/console/missing.js")
    sample = registry.get_sample_value
    name = "evcharge_admin_requests_total"
    assert sample(name, {"route": "/", "method": "GET", "status": "200"}) == 1
    assert sample(name, {"route": "/console/{path}", "method": "GET", "status": "200"}) == 1
    assert sample(name, {"route": "/console/{path}", "method": "GET", "status": "404"}) == 1


def test_load_console_reads_a_directory(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "views").mkdir()
    (tmp_path / "views" / "a.js").write_text("export {};")
    (tmp_path / "notes.txt").write_text("not served")
    (tmp_path / ".hidden.js").write_text("not served")
    console = load_console(tmp_path)
    assert sorted(console.files) == ["index.html", "views/a.js"]
    served = console.get("views/a.js")
    assert served is not None
    assert served.content_type == "text/javascript; charset=utf-8"
    assert console.get("notes.txt") is None


def test_a_console_without_its_page_says_so(tmp_path: Path, service: StationService) -> None:
    from evcharge_core.admin._console import console_routes

    app = Starlette(routes=console_routes(load_console(tmp_path)))
    response = TestClient(app).get("/")
    assert response.status_code == 404
    assert "index.html" in response.json()["detail"]
