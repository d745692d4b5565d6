"""Take the operator guide's screenshots of the web console (``docs/images/console/``).

Run from the repository root, with the test extra installed and Debian's Chromium::

    python docs/console_screenshots.py

It does what the guide describes, with the same headless browser and helpers as the
browser tests (``tests/console_browser.py``): starts ``python -m evcharge_core.serve
--demo`` on free ports with a throw-away database, imports ``examples/stations.csv``
(and a file with an error), activates ``ST1010101``, puts it in an area, connects a
simulated station to it, and photographs each view. The demo's simulated sessions come
and go, so two runs differ in their statuses.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.console_browser import (  # noqa: E402 - after the path is set
    PRINT_STUB,
    TOKEN,
    Server,
    StationThread,
    chromium,
)

OUT = ROOT / "docs" / "images" / "console"
EXAMPLE = ROOT / "examples" / "stations.csv"
VIEWPORT = {"width": 1200, "height": 760}


def _bad_csv() -> bytes:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    broken = lines[1].replace(";230;16;", ";400;16;").replace(";Type 2;", ";Type 9;")
    second = lines[2].replace(";yes;no;", ";maybe;no;", 1).replace(";Yes;No;", ";maybe;No;")
    return "\n".join([lines[0], broken, second, *lines[3:]]).encode()


Shoot = Callable[..., None]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        server = Server(Path(directory), "--demo")
        station = StationThread(server.ocpp_url, "ST1010101")
        try:
            with chromium() as browser:
                context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
                context.add_init_script(PRINT_STUB)
                page = context.new_page()
                page.set_default_timeout(30_000)
                shoot = _shooter(page)
                _sign_in(page, shoot)
                _import_and_activate(page, shoot)
                _station(page, shoot, station)
                _map(page, shoot)
        finally:
            station.stop()
            server.stop()
    return 0


def _sign_in(page: Page, shoot: Shoot) -> None:
    page.goto("/")
    page.get_by_label("Admin token").fill("•" * 12)
    shoot("sign-in")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#topbar").wait_for()


def _import_and_activate(page: Page, shoot: Shoot) -> None:
    page.goto("/#/import")
    page.get_by_label("CSV file").set_input_files(
        {"name": "stations.csv", "mimeType": "text/csv", "buffer": _bad_csv()}
    )
    page.get_by_role("button", name="Import", exact=True).click()
    page.locator("#import-result .problem").wait_for()
    shoot("import-errors")
    page.get_by_label("CSV file").set_input_files(str(EXAMPLE))
    page.get_by_role("button", name="Import", exact=True).click()
    page.locator("#import-result .success").wait_for()
    form = page.locator("#activation-form")
    form.get_by_label("Station ID").fill("ST1010101")
    form.get_by_label("Security code").fill("K7P2-9QXM")
    form.get_by_role("button", name="Activate").click()
    page.locator("#activation-result .success").wait_for()
    shoot("import-activate")


def _station(page: Page, shoot: Shoot, station: StationThread) -> None:
    page.goto("/#/stations/ST1010101")
    edit = page.locator("#edit-form")
    edit.get_by_label("Area").select_option(label="Oslo Centre")
    edit.get_by_role("button", name="Save").click()
    page.locator("#command-result .success").wait_for()
    station.start()
    page.locator('#charger-table tr[data-connector="2"]').wait_for()

    page.goto("/#/stations")
    page.locator('#station-table tr[data-station="ST1010101"]').wait_for()
    shoot("stations")

    page.goto("/#/stations/ST1010101")
    page.locator('#charger-table tr[data-connector="2"]').wait_for()
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1040})
    shoot("station")
    page.set_viewport_size(VIEWPORT)
    config = page.locator("#configuration-form")
    config.get_by_label("Keys (optional)").fill(
        "HeartbeatInterval, MeterValueSampleInterval, NumberOfConnectors"
    )
    config.get_by_role("button", name="Read from station").click()
    page.locator("#config-table").wait_for()
    shoot("configuration", page.locator("section", has=page.locator("#configuration")))
    page.get_by_role("button", name="Show QR codes").click()
    page.locator("#qr-codes img").first.wait_for()
    for image in page.locator("#qr-codes img").all():
        image.evaluate("img => img.decode()")
    shoot("qr-codes", page.locator("section", has=page.locator("#qr-codes")))


def _map(page: Page, shoot: Shoot) -> None:
    page.goto("/#/map?min_kw=11")
    page.locator('#map .marker[data-station="ST1010101"]').click()
    page.locator("#map-details dl").wait_for()
    shoot("map")


def _shooter(page: Page) -> Shoot:
    def shoot(name: str, element: Locator | None = None) -> None:
        target = OUT / f"{name}.png"
        (element or page).screenshot(path=str(target))
        print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KiB")

    return shoot


if __name__ == "__main__":
    sys.exit(main())
