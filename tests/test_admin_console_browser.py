"""The web console in a real headless browser (Debian's Chromium, driven by Playwright),
against the reference server started as an operator starts it (``--demo``, SQLite in a
temporary directory, free loopback ports), with a simulated station connecting to it.

Assertions wait for the page to show what is expected (Playwright's ``expect`` retries
until it holds or its timeout passes); nothing here measures time. Every page is also
checked for script errors and Content-Security-Policy violations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import EXAMPLES
from .console_browser import PRINT_STUB, TOKEN, Server, StationThread, chromium

expect.set_options(timeout=20_000)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
DASH = "\N{EN DASH}"  # the summary writes ranges with an en dash, as typeset
EXPECTED_HTTP_ERROR = "Failed to load resource: the server responded with a status of 4"
HEADER = (EXAMPLES / "stations.csv").read_text(encoding="utf-8").splitlines()[0]
BAD_CSV = (
    f"{HEADER}\n"
    "BAD-1;AAAA-1111;Alfen;;yes;no;Type 2;Socket;Three-phase AC;230;16;\n"
    "BAD-2;AAAA-2222;Alfen;;yes;no;Type 2;Socket;Three-phase AC;9999;16;\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("console"), "--demo")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
        base_url=server.url,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    context.add_init_script(PRINT_STUB)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def console_message(message: Any) -> None:
        # The browser logs every 4xx answer; the tests provoke those on purpose.
        if message.type == "error" and not message.text.startswith(EXPECTED_HTTP_ERROR):
            problems.append(f"console error: {message.text}")

    opened.on("console", console_message)
    try:
        yield opened
    finally:
        context.close()
    # The console logs nothing itself; a CSP violation, a module that fails to load or a
    # script error shows up here.
    assert problems == []


def _sign_in(page: Page, path: str = "/") -> None:
    page.goto(path)
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#topbar")).to_be_visible()


def _row(page: Page, station_id: str) -> Any:
    return page.locator(f'#station-table tr[data-station="{station_id}"]')


def _printed(page: Page) -> int:
    count: int = page.evaluate("window.__printed")
    return count


# --- the newcomer's path ---------------------------------------------------------------------


def test_import_activate_connect_configure_print_and_map(page: Page, server: Server) -> None:
    # Sign in: a wrong token is refused, the right one opens the live station list.
    page.goto("/")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("form.signin [role=alert]")).to_contain_text("That token is wrong")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(_row(page, "DEMO-1")).to_contain_text("online")  # the demo's simulated stations
    expect(_row(page, "DEMO-3")).to_contain_text("Harbour fast charger")

    # Import: a file with an error imports nothing and shows where the error is...
    page.get_by_role("link", name="Import & activate").click()
    page.get_by_label("CSV file").set_input_files(
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}
    )
    page.get_by_role("button", name="Import", exact=True).click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("Nothing was imported")
    error = result.locator("table.issues tbody tr")
    expect(error).to_have_count(1)
    expect(error.locator("td").nth(0)).to_have_text("3")
    expect(error.locator("td").nth(1)).to_have_text("Voltage")
    expect(error.locator("td").nth(2)).to_contain_text("out of range")

    # ... and the example file imports.
    page.get_by_label("CSV file").set_input_files(str(EXAMPLES / "stations.csv"))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(result).to_contain_text("Imported 6 stations")
    expect(result.get_by_role("link", name="ST1010101")).to_be_visible()

    # Activation: a wrong code is a mismatch, the right one activates, a second is refused.
    activation = page.locator("#activation-form")
    activation.get_by_label("Station ID").fill("ST1010101")
    activation.get_by_label("Security code").fill("WRONG-CODE")
    activation.get_by_role("button", name="Activate").click()
    answer = page.locator("#activation-result")
    expect(answer.locator(".problem")).to_have_attribute("data-status", "422")
    activation.get_by_label("Security code").fill("K7P2-9QXM")
    activation.get_by_role("button", name="Activate").click()
    expect(answer).to_contain_text("Activated ST1010101")
    activation.get_by_label("Security code").fill("K7P2-9QXM")
    activation.get_by_role("button", name="Activate").click()
    expect(answer.locator(".problem")).to_have_attribute("data-status", "409")
    expect(answer).to_contain_text("already")

    # The station list shows the imported stations.
    page.get_by_role("link", name="Stations", exact=True).click()
    expect(_row(page, "ST1010101")).to_contain_text("active")
    expect(_row(page, "WB-GARAGE-17")).to_contain_text("inactive")

    # Details: put it in an area (for the map), then connect a simulated station to it.
    _row(page, "ST1010101").get_by_role("link", name="ST1010101").click()
    expect(page.locator("h1")).to_have_text("ST1010101")
    expect(page.locator("#station-badges")).to_contain_text("offline")
    edit = page.locator("#edit-form")
    edit.get_by_label("Area").select_option(label="Oslo Centre")
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#command-result")).to_contain_text("Saved ST1010101")

    station = StationThread(server.ocpp_url, "ST1010101").start()
    try:
        # Its connection and connectors appear live (the page polls; no reload).
        expect(page.locator("#station-badges")).to_contain_text("online")
        connector = page.locator('#charger-table tr[data-connector="1"]')
        expect(connector.locator(".connector-status")).to_have_text("Available")
        expect(page.locator('#charger-table tr[data-connector="2"]')).to_be_visible()
        expect(page.locator("#connection")).to_contain_text("ocpp1.6")

        # Live configuration: read every key, then one, write it, read it back.
        configuration = page.locator("#configuration-form")
        configuration.get_by_role("button", name="Read from station").click()
        table = page.locator("#config-table")
        expect(table.locator('tr[data-key="NumberOfConnectors"]')).to_contain_text("2")
        expect(table.locator('tr[data-key="NumberOfConnectors"]')).to_contain_text("read-only")
        configuration.get_by_label("Keys (optional)").fill("MeterValueSampleInterval")
        configuration.get_by_role("button", name="Read from station").click()
        expect(table.locator("tbody tr")).to_have_count(1)
        row = table.locator('tr[data-key="MeterValueSampleInterval"]')
        expect(row.locator("input")).to_have_value("5")
        row.locator("input").fill("15")
        row.get_by_role("button", name="Write").click()
        expect(row.locator(".write-result")).to_have_text("Accepted")
        assert station.station is not None
        expect(row.locator("input")).to_have_value("15")  # as read back from the station
        assert station.station.model.configuration.values["MeterValueSampleInterval"] == "15"

        # A remote start: the connector's status changes live; then a remote stop.
        sessions = page.locator("#remote-start-form")
        sessions.get_by_label("Connector").select_option("1")
        sessions.get_by_label("Id tag").fill("DEMO-CARD")
        sessions.get_by_role("button", name="Remote start").click()
        expect(page.locator("#command-result")).to_contain_text("Remote start: Accepted")
        expect(connector.locator(".connector-status")).to_have_text("Charging")
        running = page.locator("#session-table tbody tr")
        expect(running).to_have_count(1)
        expect(running).to_contain_text("DEMO-CARD")
        running.get_by_role("button", name="Remote stop").click()
        expect(page.locator("#command-result")).to_contain_text("Accepted")
        expect(page.locator("#sessions")).to_contain_text("No session is running")

        # QR codes: fetched with the token, shown through blob URLs; then the sheet prints.
        page.get_by_role("button", name="Show QR codes").click()
        codes = page.locator("#qr-codes figure")
        expect(codes).to_have_count(2)  # a code per connector: they can be used at once
        expect(codes.first).to_contain_text("ST1010101-1*1")
        image = codes.first.locator("img")
        expect(image).to_have_attribute("src", re.compile(r"^blob:"))
        # (evaluate, not wait_for_function: the page's policy forbids eval, rightly)
        assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        with page.expect_download() as download:
            codes.first.get_by_role("button", name="PNG").click()
        assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")
        page.locator("#print-sheet").click()
        expect(page.locator("body")).to_have_class(re.compile("printing-sheet"))
        assert _printed(page) == 1
        assert page.evaluate("document.getElementById('sheet-image').naturalWidth") > 0
        page.emulate_media(media="print")
        expect(page.locator("#sheet")).to_be_visible()
        expect(page.locator("main")).to_be_hidden()
        page.emulate_media(media="screen")

        # Disconnect: the station goes offline and live reads say it is not connected.
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#disconnect").click()
        expect(page.locator("#command-result")).to_contain_text("Disconnected ST1010101")
        expect(page.locator("#station-badges")).to_contain_text("offline")
        configuration.get_by_role("button", name="Read from station").click()
        problem = page.locator("#configuration .problem")
        expect(problem).to_have_attribute("data-status", "409")
        expect(problem).to_contain_text("not connected")
    finally:
        station.stop()

    # The map: the station's charger is at Oslo Centre; an 11 kW charger is kept at 11 kW
    # and filtered out at 22 kW, where the 50 kW DC charger stays.
    page.get_by_role("link", name="Map").click()
    ours = page.locator('#map .marker[data-station="ST1010101"]')
    expect(ours).to_have_count(1)
    expect(page.locator('#map .marker[data-station="DEMO-3"]')).to_have_count(1)
    page.get_by_label("Minimum power (kW)").fill("11")
    expect(page.locator("#map-table")).to_contain_text("ST1010101")
    expect(ours).to_have_count(1)
    page.get_by_label("Minimum power (kW)").fill("22")
    expect(ours).to_have_count(0)
    expect(page.locator('#map .marker[data-station="DEMO-3"]')).to_have_count(1)
    page.locator('#map .marker[data-station="DEMO-3"]').click()
    details = page.locator("#map-details")
    expect(details).to_contain_text("Harbour DC")
    expect(details).to_contain_text("Bjørvika")
    expect(details).to_contain_text("50 kW")
    # A click on the map sets the point distances are measured from.
    page.locator("#map .sea").click(position={"x": 40, "y": 40})
    expect(page.locator("#map-table thead")).to_contain_text("Distance")
    expect(page.locator("#map-table tbody tr").first.locator("td").last).to_contain_text(
        re.compile(r"\d+(\.\d+)? k?m")
    )
    expect(details).not_to_contain_text("click the map to measure")


# --- the list --------------------------------------------------------------------------------


def _create_stations(server: Server, prefix: str, count: int) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        for n in range(1, count + 1):
            created = http.post("/api/stations", json={"id": f"{prefix}{n:03}", "name": f"=N{n}"})
            assert created.status_code == 201, created.text


def test_list_search_sort_pages_export_print_and_copy(page: Page, server: Server) -> None:
    _create_stations(server, "PAGE-", 55)
    _sign_in(page, "/#/stations")
    page.get_by_label("Search").fill("page-")
    summary = page.locator(".summary")
    expect(summary).to_have_text(f"Stations 1{DASH}50 of 55")
    rows = page.locator("#station-table tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-station", "PAGE-001")
    page.get_by_role("button", name="Next →").click()
    expect(summary).to_have_text(f"Stations 51{DASH}55 of 55")
    expect(rows).to_have_count(5)
    # Sorting by ID, descending: back to the first page, the last station first.
    page.locator('button.sort[data-sort="id"]').click()
    expect(rows.first).to_have_attribute("data-station", "PAGE-055")
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("ID")
    # The filters live in the address: a reload keeps them.
    assert "search=page-" in page.url
    assert "sort=-id" in page.url
    page.reload()
    expect(rows.first).to_have_attribute("data-station", "PAGE-055")
    expect(page.get_by_label("Search")).to_have_value("page-")
    # Filters: none of these stations is connected; a page size.
    page.get_by_label("Connection").select_option("true")
    expect(summary).to_have_text("No station matches these filters.")
    page.get_by_label("Connection").select_option("false")
    page.get_by_label("Per page").select_option("25")
    expect(summary).to_have_text(f"Stations 1{DASH}25 of 55")

    # CSV: every matching station (not just the page), formulas neutralised.
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV").click()
    assert download.value.suggested_filename == "stations.csv"
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,")
    assert len(lines) == 1 + 55
    assert "'=N55" in lines[1]

    # Copy: the visible page as tab-separated text.
    page.get_by_role("button", name="Copy").click()
    expect(page.locator(".toast")).to_contain_text("Copied 25 stations")
    copied = page.evaluate("navigator.clipboard.readText()").splitlines()
    assert copied[0].split("\t")[:3] == ["ID", "Name", "Code"]
    assert len(copied) == 1 + 25
    assert copied[1].split("\t")[:2] == ["PAGE-055", "=N55"]

    # Print: the print stylesheet keeps the table and drops the controls.
    page.get_by_role("button", name="Print").click()
    assert _printed(page) == 1
    page.emulate_media(media="print")
    expect(page.locator("#station-table")).to_be_visible()
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.locator("#topbar")).to_be_hidden()
    expect(page.locator(".print-only")).to_contain_text("Stations, page 1 of 3")


# --- sign-in ---------------------------------------------------------------------------------


def test_a_refused_token_returns_to_the_sign_in_view(page: Page, server: Server) -> None:
    _sign_in(page, "/#/stations/DEMO-2")
    expect(page.locator("h1")).to_contain_text("Opera")
    # The token changes (a server restarted with another one): the next poll gets a 401.
    page.evaluate("sessionStorage.setItem('evcharge-console.token', 'stale')")
    expect(page.locator("form.signin [role=alert]")).to_contain_text("refused the token")
    expect(page.locator("#topbar")).to_be_hidden()
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_contain_text("Opera")  # back where it was
    # Signing out forgets the token.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Admin token")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_label("Admin token")).to_be_visible()


def test_errors_are_shown_from_the_problem_details(page: Page, server: Server) -> None:
    _sign_in(page, "/#/stations/NO-SUCH-STATION")
    problem = page.locator(".problem")
    expect(problem).to_have_attribute("data-status", "404")
    expect(problem).to_contain_text("NO-SUCH-STATION")
    # A command to a station that is not connected: 409 from the problem.
    _create_stations(server, "IDLE-", 1)
    page.goto("/#/stations/IDLE-001")
    page.get_by_role("button", name="Trigger BootNotification").click()
    answer = page.locator("#command-result .problem")
    expect(answer).to_have_attribute("data-status", "409")
    expect(answer).to_contain_text("IDLE-001 is not connected")
    # An import with more errors than the API lists: the first 100 and the total.
    many = "".join(
        f"MANY-{n};CODE-{n};Alfen;;yes;no;Type 2;Socket;Three-phase AC;9999;16;\n"
        for n in range(150)
    )
    page.get_by_role("link", name="Import & activate").click()
    page.get_by_label("CSV file").set_input_files(
        {"name": "many.csv", "mimeType": "text/csv", "buffer": f"{HEADER}\n{many}".encode()}
    )
    page.get_by_role("button", name="Import", exact=True).click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("150 errors; the first 100 are shown.")
    expect(result.locator("table.issues tbody tr")).to_have_count(100)
    expect(result.locator("table.issues tbody tr").last.locator("td").first).to_have_text("101")
    # The areas page: a bad area is refused field by field.
    page.get_by_role("link", name="Areas").click()
    expect(page.locator("#area-table")).to_contain_text("Oslo Centre")
    form = page.locator("#area-form")
    form.get_by_label("Name").fill("Depot")
    form.get_by_label("Latitude").fill("123")
    form.get_by_label("Longitude").fill("10.5")
    form.get_by_role("button", name="Create area").click()
    expect(form.locator(".problem")).to_have_attribute("data-status", "422")
    expect(form.locator(".problem table")).to_contain_text("latitude")
    form.get_by_label("Latitude").fill("59.95")
    form.get_by_role("button", name="Create area").click()
    expect(form).to_contain_text("Created Depot")
    expect(page.locator("#area-table")).to_contain_text("Depot")


def test_profiles_a_chargers_profile_and_an_areas_allocations(page: Page, server: Server) -> None:
    _sign_in(page, "/#/profiles")
    form = page.locator("#profile-form")
    form.get_by_label("ID (optional)").fill("day-night")
    form.get_by_label("Name").fill("Day/night")
    form.get_by_label("Periods").fill("07:00=10000\n25:00=20000")
    form.get_by_role("button", name="Create profile").click()
    expect(form.locator(".problem")).to_have_attribute("data-status", "422")
    expect(form.locator(".problem table")).to_contain_text("periods[1].start")
    form.get_by_label("Periods").fill("07:00=10000\n22:00=20000")
    form.get_by_role("button", name="Create profile").click()
    expect(form).to_contain_text("Created Day/night")
    row = page.locator('#profile-table tr[data-profile="day-night"]')
    expect(row).to_contain_text("07:00 10 kW · 22:00 20 kW")
    # A charger given the profile shows it on its station's page.
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        assert http.post("/api/stations", json={"id": "PROF-001"}).status_code == 201
        charger = http.post(
            "/api/stations/PROF-001/chargers", json={"charging_profile_id": "day-night"}
        )
        assert charger.status_code == 201, charger.text
    page.goto("/#/stations/PROF-001")
    expect(page.locator(".charger-profile")).to_contain_text("day-night")
    # An area with an output limit: its allocations (the demo's Oslo Centre, 125 A).
    page.get_by_role("link", name="Areas").click()
    page.locator("#area-table").get_by_role("link", name="Oslo Centre").click()
    expect(page.locator("h1")).to_contain_text("Allocations")
    expect(page.locator("#allocation-summary")).to_contain_text("125 A per phase")
    page.get_by_role("link", name="All areas").click()
    page.locator("#area-table").get_by_role("link", name="Bjørvika").click()
    expect(page.locator("#allocation-summary")).to_contain_text("no output limit")
