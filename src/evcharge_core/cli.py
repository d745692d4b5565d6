"""The ``evcharge`` command line (also ``python -m evcharge_core``).

Outputs and exit codes are part of the contract (CONTRACT.md): 0 on success, 1 for a user
error (one clear message per line on stderr, never a traceback), 2 for a usage error.
Located messages read ``line L, column "C": message`` (CSV) or ``field "F": message`` (JSON);
warnings go to stderr as ``warning: ...`` and do not change the exit status.

Create and update commands take named options for the common fields and ``--set
FIELD=VALUE`` for any field of the admin JSON (``VALUE`` is read as JSON when it parses, else
as a string; ``a.b=VALUE`` sets a nested field), so the CLI and the admin API accept exactly
the same bodies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["main"]


class _UserError(Exception):
    """Ends the command with exit status 1 and these lines on stderr."""

    def __init__(self, *lines: str) -> None:
        self.lines = lines


# --- argument parsing ------------------------------------------------------------------------


def _db_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="database: a path, sqlite:///PATH, memory:// or postgresql://... (default: "
        "$EVCHARGE_DB, else evcharge.db)",
    )
    return parent


def _set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set any field of the admin JSON (VALUE as JSON if it parses, else text)",
    )


def build_parser() -> argparse.ArgumentParser:
    db = _db_parent()
    parser = argparse.ArgumentParser(
        prog="evcharge",
        description="Manage charging stations: import, activate, list, create, update.",
        parents=[db],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imp = commands.add_parser(
        "import-stations", parents=[db], help="import stations from a CSV file (SPEC §5)"
    )
    imp.add_argument("file", metavar="FILE", help="the CSV file (- for stdin)")

    single = commands.add_parser(
        "import-station", parents=[db], help="import one station from a JSON file"
    )
    single.add_argument("file", metavar="FILE.json", help="the JSON file (- for stdin)")

    act = commands.add_parser(
        "activate", parents=[db], help="activate an imported station with its security code"
    )
    act.add_argument("station_id", metavar="STATION_ID")
    act.add_argument("--security-code", required=True, metavar="CODE")

    _stations_commands(commands, db)
    _chargers_commands(commands, db)
    _connectors_commands(commands, db)
    _areas_commands(commands, db)
    _profiles_commands(commands, db)
    _transactions_commands(commands, db)
    _id_tokens_commands(commands, db)
    _qr_and_map_commands(commands, db)
    return parser


def _list_options(parser: argparse.ArgumentParser, formats: list[str]) -> None:
    parser.add_argument("--format", choices=formats, default=formats[0])
    parser.add_argument("--page", type=int, default=None)
    parser.add_argument("--page-size", type=int, default=None)
    parser.add_argument("--search", default=None, metavar="Q")


def _transactions_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    transactions = commands.add_parser("transactions", parents=[db], help="charging sessions")
    sub = transactions.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = sub.add_parser("list", parents=[db], help="list transactions (one page, or export all)")
    _list_options(lst, ["table", "csv", "json"])
    lst.add_argument("--station", default=None, metavar="ID")
    lst.add_argument("--state", choices=["active", "ended"], default=None)
    lst.add_argument("--area", default=None, metavar="ID")
    lst.add_argument("--since", default=None, metavar="ISO8601", help="started at or after")
    lst.add_argument("--until", default=None, metavar="ISO8601", help="started before")
    lst.add_argument(
        "--sort",
        default="-started_at",
        help="started_at, energy_wh or station_id; prefix - to reverse (default -started_at)",
    )


def _id_tokens_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    tokens = commands.add_parser("id-tokens", parents=[db], help="the id token registry")
    sub = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = sub.add_parser("list", parents=[db], help="every id token")
    lst.add_argument("--format", choices=["table", "json"], default="table")
    show = sub.add_parser("show", parents=[db], help="one id token as JSON")
    show.add_argument("id_token", metavar="ID_TOKEN")
    create = sub.add_parser("create", parents=[db], help="register an id token")
    create.add_argument("id_token", metavar="ID_TOKEN")
    update = sub.add_parser("update", parents=[db], help="change an id token")
    update.add_argument("id_token", metavar="ID_TOKEN")
    for cmd in (create, update):
        cmd.add_argument("--type", dest="token_type", metavar="TYPE", help="default ISO14443")
        cmd.add_argument("--status", choices=["Accepted", "Blocked", "Expired", "Invalid"])
        cmd.add_argument("--expiry-date", metavar="ISO8601", help="with a time zone; '' clears")
        cmd.add_argument("--group-id", metavar="GROUP", help="'' clears")
        _set_option(cmd)
    delete = sub.add_parser("delete", parents=[db], help="delete an id token")
    delete.add_argument("id_token", metavar="ID_TOKEN")


def _qr_and_map_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    qr = commands.add_parser("qr", parents=[db], help="scanned QR payloads")
    sub = qr.add_subparsers(dest="action", required=True, metavar="ACTION")
    resolve = sub.add_parser(
        "resolve", parents=[db], help="the station, charger and connector a payload names"
    )
    resolve.add_argument("payload", metavar="PAYLOAD")

    chart = commands.add_parser(
        "map", parents=[db], help="chargers on the map (GeoJSON), nearest first"
    )
    chart.add_argument("--format", choices=["table", "geojson"], default="table")
    chart.add_argument("--lat", type=float, default=None)
    chart.add_argument("--lon", type=float, default=None)
    chart.add_argument("--min-power-w", type=int, default=None, metavar="W")
    chart.add_argument("--driver", default=None, metavar="DRIVER_ID")
    chart.add_argument("--area", default=None, metavar="ID")
    chart.add_argument("--radius-m", type=float, default=None, metavar="M")
    chart.add_argument("--limit", type=int, default=None)
    chart.add_argument(
        "--view",
        choices=["driver", "operator"],
        default="driver",
        help="driver (default): what drivers see; operator: every located charger",
    )


def _stations_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    stations = commands.add_parser("stations", parents=[db], help="list, show, create...")
    sub = stations.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = sub.add_parser("list", parents=[db], help="list stations (one page, or export all)")
    lst.add_argument("--format", choices=["table", "csv", "json"], default="table")
    lst.add_argument("--page", type=int, default=None)
    lst.add_argument("--page-size", type=int, default=None)
    lst.add_argument("--search", default=None, metavar="Q")
    lst.add_argument("--status", default=None, metavar="S")
    lst.add_argument("--operational-status", default=None, metavar="S")
    lst.add_argument("--area", default=None, metavar="ID")
    lst.add_argument("--activation", choices=["active", "inactive"], default=None)
    lst.add_argument("--connected", choices=["true", "false"], default=None)
    lst.add_argument(
        "--sort", default="id", help="id, name, code, status or last_seen; prefix - to reverse"
    )
    show = sub.add_parser("show", parents=[db], help="one station as JSON")
    show.add_argument("station_id", metavar="STATION_ID")
    sheet = sub.add_parser(
        "qr-sheet", parents=[db], help="a printable SVG page of every QR code of a station"
    )
    sheet.add_argument("station_id", metavar="STATION_ID")
    sheet.add_argument("-o", "--output", metavar="FILE", help="write it here (default: stdout)")
    for name in ("create", "update"):
        cmd = sub.add_parser(name, parents=[db], help=f"{name} a station")
        cmd.add_argument("station_id", metavar="STATION_ID")
        cmd.add_argument("--name")
        cmd.add_argument("--code")
        cmd.add_argument("--protocol", help="ocpp1.6 or ocpp2.0.1")
        cmd.add_argument("--area", dest="area_id", metavar="AREA_ID")
        _set_option(cmd)
    delete = sub.add_parser("delete", parents=[db], help="delete a station")
    delete.add_argument("station_id", metavar="STATION_ID")


def _chargers_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    chargers = commands.add_parser("chargers", parents=[db], help="chargers and their QR codes")
    sub = chargers.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = sub.add_parser("list", parents=[db], help="list chargers (one page, or export all)")
    lst.add_argument(
        "station_id", metavar="STATION_ID", nargs="?", help="only this station's (as --station)"
    )
    _list_options(lst, ["table", "csv", "json"])
    lst.add_argument("--station", dest="station_filter", metavar="ID")
    lst.add_argument("--status", default=None, metavar="S")
    lst.add_argument("--operational-status", default=None, metavar="S")
    lst.add_argument("--area", default=None, metavar="ID")
    lst.add_argument("--activation", choices=["active", "inactive"], default=None)
    lst.add_argument("--connected", choices=["true", "false"], default=None)
    lst.add_argument("--current-type", choices=["AC", "DC"], default=None)
    lst.add_argument(
        "--sort",
        default="station",
        help="station, code, name, status or max_power_w; prefix - to reverse",
    )
    qr = sub.add_parser("qr", parents=[db], help="a charger's QR code(s)")
    qr.add_argument("charger_id", metavar="CHARGER_ID")
    qr.add_argument("--connector", metavar="CONNECTOR_ID", help="the connector's code to draw")
    qr.add_argument(
        "--format",
        choices=["text", "svg", "png"],
        default="text",
        help="text (default): every payload with its label; svg or png: one image",
    )
    qr.add_argument("--scale", type=int, default=8, help="pixels or units per module (1-64)")
    qr.add_argument("-o", "--output", metavar="FILE", help="write the image here (- for stdout)")
    show = sub.add_parser("show", parents=[db], help="one charger as JSON")
    show.add_argument("charger_id", metavar="CHARGER_ID")
    create = sub.add_parser("create", parents=[db], help="add a charger to a station")
    create.add_argument("station_id", metavar="STATION_ID")
    update = sub.add_parser("update", parents=[db], help="change a charger")
    update.add_argument("charger_id", metavar="CHARGER_ID")
    for cmd in (create, update):
        cmd.add_argument("--name")
        cmd.add_argument("--code")
        cmd.add_argument("--evse-id", type=int)
        _set_option(cmd)
    delete = sub.add_parser("delete", parents=[db], help="delete a charger")
    delete.add_argument("charger_id", metavar="CHARGER_ID")


def _connectors_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    connectors = commands.add_parser("connectors", parents=[db], help="a charger's connectors")
    sub = connectors.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = sub.add_parser("show", parents=[db], help="one connector as JSON")
    show.add_argument("connector_id", metavar="CONNECTOR_ID")
    create = sub.add_parser("create", parents=[db], help="add a connector to a charger")
    create.add_argument("charger_id", metavar="CHARGER_ID")
    update = sub.add_parser("update", parents=[db], help="change a connector")
    update.add_argument("connector_id", metavar="CONNECTOR_ID")
    for cmd in (create, update):
        cmd.add_argument("--name")
        cmd.add_argument("--code")
        cmd.add_argument("--ocpp-id", type=int)
        _set_option(cmd)
    delete = sub.add_parser("delete", parents=[db], help="delete a connector")
    delete.add_argument("connector_id", metavar="CONNECTOR_ID")


def _areas_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    areas = commands.add_parser("areas", parents=[db], help="charging areas")
    sub = areas.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", parents=[db], help="every area as JSON")
    show = sub.add_parser("show", parents=[db], help="one area as JSON")
    show.add_argument("area_id", metavar="AREA_ID")
    create = sub.add_parser("create", parents=[db], help="create an area")
    create.add_argument("--id", dest="area_id")
    update = sub.add_parser("update", parents=[db], help="change an area")
    update.add_argument("area_id", metavar="AREA_ID")
    for cmd in (create, update):
        cmd.add_argument("--name")
        cmd.add_argument("--latitude", type=float)
        cmd.add_argument("--longitude", type=float)
        cmd.add_argument("--address")
        cmd.add_argument("--output-limit-a", type=int, metavar="A")
        cmd.add_argument("--output-limit-w", type=int, metavar="W")
        cmd.add_argument(
            "--private-group",
            metavar="IDS",
            help="driver ids (or id token groups), comma-separated; '' empties the group",
        )
        cmd.add_argument("--time-zone", metavar="TZ", help="IANA name, e.g. Europe/Oslo")
        _set_option(cmd)
    delete = sub.add_parser("delete", parents=[db], help="delete an area without stations")
    delete.add_argument("area_id", metavar="AREA_ID")
    allocations = sub.add_parser(
        "allocations",
        parents=[db],
        help="how the area's output limit is shared now, computed from the stored sessions",
    )
    allocations.add_argument("area_id", metavar="AREA_ID")


def _profiles_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], db: argparse.ArgumentParser
) -> None:
    profiles = commands.add_parser("profiles", parents=[db], help="charging profiles")
    sub = profiles.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", parents=[db], help="every charging profile as JSON")
    show = sub.add_parser("show", parents=[db], help="one profile as JSON")
    show.add_argument("profile_id", metavar="PROFILE_ID")
    create = sub.add_parser("create", parents=[db], help="create a profile")
    create.add_argument("--id", dest="profile_id")
    update = sub.add_parser("update", parents=[db], help="change a profile")
    update.add_argument("profile_id", metavar="PROFILE_ID")
    for cmd in (create, update):
        cmd.add_argument(
            "--file", metavar="FILE.json", help="the profile's JSON (- for stdin); options win"
        )
        cmd.add_argument("--name")
        cmd.add_argument("--unit", metavar="A|W")
        cmd.add_argument("--recurrence", metavar="daily|weekly")
        cmd.add_argument(
            "--period",
            dest="periods",
            action="append",
            metavar="START=LIMIT[/PHASES]",
            help='a period, e.g. 07:00=10000 or "Mon 07:00=16/1"; repeat for each '
            "(replaces every period)",
        )
    delete = sub.add_parser("delete", parents=[db], help="delete a profile no charger uses")
    delete.add_argument("profile_id", metavar="PROFILE_ID")


# --- helpers ---------------------------------------------------------------------------------


def _read_input(name: str, stdin: TextIO) -> bytes:
    if name == "-":
        return stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise _UserError(f"cannot read {name}: {exc.strerror or exc}") from None


def _body(args: argparse.Namespace, named: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The admin JSON body from named options and ``--set`` assignments."""
    body: dict[str, Any] = {}
    for attr, field in named:
        value = getattr(args, attr, None)
        if value is not None:
            body[field] = value
    for assignment in args.assignments:
        path, sep, raw = assignment.partition("=")
        if not sep or not path:
            raise _UserError(f"--set {assignment!r}: write FIELD=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        target = body
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                raise _UserError(f"--set {assignment!r}: {parent} is not an object")
        target[leaf] = value
    return body


def _dump(obj: object, out: TextIO) -> None:
    out.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _issue_lines(issues: Sequence[Any], total: int) -> list[str]:
    from .errors import MAX_SHOWN_ISSUES

    lines = [str(i) for i in issues[:MAX_SHOWN_ISSUES]]
    lines.append(f"{total} error{'s' if total != 1 else ''} in total")
    return lines


# --- commands --------------------------------------------------------------------------------


async def _run(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from .bootstrap import open_repository, resolve_db_url
    from .errors import (
        ActivationMismatch,
        ActivationThrottled,
        AlreadyActivated,
        Conflict,
        ImportRejected,
        InvalidInput,
        NotFound,
        StorageError,
    )
    from .service import StationService

    url = resolve_db_url(getattr(args, "db", None), os.environ)
    try:
        repository = await open_repository(url)
    except StorageError as exc:
        raise _UserError(f"error: {exc}") from None
    service = StationService(repository)
    try:
        return await _dispatch(args, service, out, err, stdin)
    except ImportRejected as exc:
        for warning in exc.warnings:
            err.write(f"warning: {warning}\n")
        raise _UserError(*_issue_lines(exc.issues, exc.error_count)) from None
    except InvalidInput as exc:
        raise _UserError(*(str(i) for i in exc.issues)) from None
    except (
        NotFound,
        Conflict,
        ActivationMismatch,
        ActivationThrottled,
        AlreadyActivated,
        StorageError,
    ) as exc:
        raise _UserError(f"error: {exc}") from None
    finally:
        await repository.close()


async def _dispatch(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    handlers: dict[str, Callable[..., Awaitable[int]]] = {
        "import-stations": _import_stations,
        "import-station": _import_station,
        "activate": _activate,
        "stations": _stations,
        "chargers": _chargers,
        "connectors": _connectors,
        "areas": _areas,
        "profiles": _profiles,
        "transactions": _transactions,
        "id-tokens": _id_tokens,
        "qr": _qr,
        "map": _map,
    }
    return await handlers[args.command](args, service, out, err, stdin)


async def _import_stations(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    report = await service.import_csv(_read_input(args.file, stdin))
    for warning in report.warnings:
        err.write(f"warning: {warning}\n")
    count = len(report.imported)
    out.write(f"imported {count} station{'s' if count != 1 else ''}\n")
    return 0


async def _import_station(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    report = await service.import_single_json(_read_input(args.file, stdin))
    for warning in report.warnings:
        err.write(f"warning: {warning}\n")
    out.write(f"imported {report.imported[0]}\n")
    return 0


async def _activate(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    station = await service.activate(args.station_id, args.security_code)
    out.write(f"activated {station.id}\n")
    return 0


def _query(args: argparse.Namespace) -> Any:
    from .domain.values import ActivationState, ConnectorStatus, OperationalStatus
    from .errors import InvalidInput, Issue
    from .ports import SortKey, StationQuery

    issues: list[Issue] = []

    def parse(enum_cls: Any, text: str | None, option: str) -> Any:
        if text is None:
            return None
        for member in enum_cls:
            if member.value.lower() == text.lower():
                return member
        allowed = ", ".join(m.value for m in enum_cls)
        issues.append(Issue(f"{option}: unknown value {text!r} (use one of {allowed})"))
        return None

    sort_text = args.sort
    descending = sort_text.startswith("-")
    sort = parse(SortKey, sort_text.removeprefix("-"), "--sort")
    kwargs: dict[str, Any] = {
        "search": args.search,
        "status": parse(ConnectorStatus, args.status, "--status"),
        "operational_status": parse(
            OperationalStatus, args.operational_status, "--operational-status"
        ),
        "area_id": args.area,
        "activation": parse(ActivationState, args.activation, "--activation"),
        "connected": None if args.connected is None else args.connected == "true",
        "sort": sort or SortKey.ID,
        "descending": descending,
    }
    if args.page is not None:
        kwargs["page"] = args.page
    if args.page_size is not None:
        kwargs["page_size"] = args.page_size
    if issues:
        raise InvalidInput(issues)
    try:
        return StationQuery(**kwargs)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")


async def _stations(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    if args.action == "list":
        return await _stations_list(args, service, out)
    if args.action == "show":
        _dump(service.station_json(await service.get_station(args.station_id)), out)
        return 0
    if args.action == "qr-sheet":
        from .qrcodes import qr_sheet_svg

        station, codes = await service.station_qr_codes(args.station_id)
        title = f"{station.name} ({station.id})" if station.name != station.id else station.id
        _write_output(args.output, qr_sheet_svg(title, codes).encode(), out)
        return 0
    if args.action == "delete":
        await service.delete_station(args.station_id)
        out.write(f"deleted station {args.station_id}\n")
        return 0
    named = [("name", "name"), ("code", "code"), ("protocol", "protocol"), ("area_id", "area_id")]
    body = _body(args, named)
    if args.action == "create":
        station = await service.create_station({"id": args.station_id, **body})
    else:
        station = await service.update_station(args.station_id, body)
    _dump(service.station_json(station), out)
    return 0


async def _stations_list(args: argparse.Namespace, service: Any, out: TextIO) -> int:
    from .domain.status import station_operational_status, station_status

    query = _query(args)
    paged = args.page is not None or args.page_size is not None
    if args.format == "csv" and not paged:
        out.write(await service.export_csv(query))
        return 0
    if args.format == "json" and not paged:
        items = [service.station_json(s) async for s in service.iter_stations(query)]
        _dump({"items": items, "page": 1, "page_size": len(items), "total": len(items)}, out)
        return 0
    page = await service.list_stations(query)
    if args.format == "json":
        items = [service.station_json(s) for s in page.items]
        _dump(
            {"items": items, "page": page.page, "page_size": page.page_size, "total": page.total},
            out,
        )
        return 0
    if args.format == "csv":
        from .service import stations_to_csv

        out.write(stations_to_csv(page.items))
        return 0
    rows = [["ID", "NAME", "STATUS", "OPERATIONAL", "ACTIVATION", "CONNECTED", "AREA"]]
    for station in page.items:
        status = station_status(station)
        rows.append(
            [
                station.id,
                station.name,
                status.value if status is not None else "-",
                station_operational_status(station).value,
                station.activation.state.value,
                "yes" if station.connection.connected else "no",
                station.area_id or "-",
            ]
        )
    _table(rows, out)
    pages = max(1, -(-page.total // page.page_size))
    out.write(f"page {page.page} of {pages}, {page.total} station(s)\n")
    return 0


async def _chargers(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from .admin_json import charger_to_json

    if args.action == "list":
        return await _chargers_list(args, service, out)
    if args.action == "qr":
        return await _charger_qr(args, service, out)
    if args.action == "show":
        _dump(charger_to_json(*await service.get_charger(args.charger_id)), out)
        return 0
    if args.action == "delete":
        await service.delete_charger(args.charger_id)
        out.write(f"deleted charger {args.charger_id}\n")
        return 0
    body = _body(args, [("name", "name"), ("code", "code"), ("evse_id", "evse_id")])
    if args.action == "create":
        station, charger = await service.create_charger(args.station_id, body)
    else:
        station, charger = await service.update_charger(args.charger_id, body)
    _dump(charger_to_json(station, charger), out)
    return 0


async def _connectors(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from .admin_json import connector_to_json

    if args.action == "show":
        _dump(connector_to_json(*await service.get_connector(args.connector_id)), out)
        return 0
    if args.action == "delete":
        await service.delete_connector(args.connector_id)
        out.write(f"deleted connector {args.connector_id}\n")
        return 0
    body = _body(args, [("name", "name"), ("code", "code"), ("ocpp_id", "ocpp_id")])
    if args.action == "create":
        _, connector = await service.create_connector(args.charger_id, body)
    else:
        _, connector = await service.update_connector(args.connector_id, body)
    _dump(connector_to_json(*await service.get_connector(connector.id)), out)
    return 0


async def _areas(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from .admin_json import area_to_json

    if args.action == "list":
        _dump([area_to_json(a) for a in await service.list_areas()], out)
        return 0
    if args.action == "show":
        _dump(area_to_json(await service.get_area(args.area_id)), out)
        return 0
    if args.action == "delete":
        await service.delete_area(args.area_id)
        out.write(f"deleted area {args.area_id}\n")
        return 0
    if args.action == "allocations":
        from .balancing import allocations_to_json, compute_allocations

        area = await service.get_area(args.area_id)
        view = await compute_allocations(service.repository, area, service.clock())
        _dump(allocations_to_json(view), out)
        return 0
    named = [
        ("name", "name"),
        ("latitude", "latitude"),
        ("longitude", "longitude"),
        ("address", "address"),
        ("output_limit_a", "output_limit_a"),
        ("output_limit_w", "output_limit_w"),
        ("time_zone", "time_zone"),
    ]
    body = _body(args, named)
    if args.private_group is not None:
        body["private_group"] = [m.strip() for m in args.private_group.split(",") if m.strip()]
    if args.action == "create":
        if args.area_id is not None:
            body["id"] = args.area_id
        area = await service.create_area(body)
    else:
        area = await service.update_area(args.area_id, body)
    _dump(area_to_json(area), out)
    return 0


def _period_option(text: str) -> dict[str, Any]:
    start, sep, rest = text.rpartition("=")
    if not sep or not start.strip():
        raise _UserError(f"--period {text!r}: write START=LIMIT, e.g. 07:00=10000")
    limit_text, _, phases = rest.partition("/")
    period: dict[str, Any] = {"start": start.strip()}
    try:
        period["limit"] = int(limit_text)
        if phases:
            period["number_phases"] = int(phases)
    except ValueError:
        raise _UserError(f"--period {text!r}: LIMIT and PHASES are whole numbers") from None
    return period


async def _profiles(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from .admin_json import profile_to_json

    if args.action == "list":
        _dump([profile_to_json(p) for p in await service.list_profiles()], out)
        return 0
    if args.action == "show":
        _dump(profile_to_json(await service.get_profile(args.profile_id)), out)
        return 0
    if args.action == "delete":
        await service.delete_profile(args.profile_id)
        out.write(f"deleted charging profile {args.profile_id}\n")
        return 0
    body: dict[str, Any] = {}
    if args.file is not None:
        try:
            loaded = json.loads(_read_input(args.file, stdin))
        except ValueError as exc:
            raise _UserError(f"{args.file}: not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise _UserError(f"{args.file}: expected a JSON object")
        body.update(loaded)
    for field in ("name", "unit", "recurrence"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    if args.periods:
        body["periods"] = [_period_option(text) for text in args.periods]
    if args.action == "create":
        if args.profile_id is not None:
            body["id"] = args.profile_id
        profile = await service.create_profile(body)
    else:
        profile = await service.update_profile(args.profile_id, body)
    _dump(profile_to_json(profile), out)
    return 0


def _parse_enum(enum_cls: Any, text: str | None, option: str, issues: list[Any]) -> Any:
    from .errors import Issue

    if text is None:
        return None
    for member in enum_cls:
        if str(member.value).lower() == text.lower():
            return member
    allowed = ", ".join(str(m.value) for m in enum_cls)
    issues.append(Issue(f"{option}: unknown value {text!r} (use one of {allowed})"))
    return None


def _build_query(
    factory: Any, kwargs: dict[str, Any], args: argparse.Namespace, issues: list[Any]
) -> Any:
    from .errors import InvalidInput

    if args.page is not None:
        kwargs["page"] = args.page
    if args.page_size is not None:
        kwargs["page_size"] = args.page_size
    if issues:
        raise InvalidInput(issues)
    try:
        return factory(**kwargs)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _write_output(path: str | None, data: bytes, out: TextIO) -> None:
    """``data`` to the file ``path``, or to stdout (``None`` or ``-``)."""
    if path is None or path == "-":
        if hasattr(out, "buffer"):
            out.flush()
            out.buffer.write(data)
            out.buffer.flush()
        else:
            out.write(data.decode("utf-8", "replace"))
        return
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise _UserError(f"cannot write {path}: {exc.strerror or exc}") from None


async def _chargers_list(args: argparse.Namespace, service: Any, out: TextIO) -> int:
    from .admin_json import charger_to_json
    from .domain.status import charger_operational_status, charger_status
    from .domain.values import ActivationState, ConnectorStatus, CurrentType, OperationalStatus
    from .listing import ChargerQuery, ChargerSortKey, chargers_to_csv

    issues: list[Any] = []
    sort_text = args.sort
    kwargs: dict[str, Any] = {
        "search": args.search,
        "station_id": args.station_filter or args.station_id,
        "status": _parse_enum(ConnectorStatus, args.status, "--status", issues),
        "operational_status": _parse_enum(
            OperationalStatus, args.operational_status, "--operational-status", issues
        ),
        "area_id": args.area,
        "connected": None if args.connected is None else args.connected == "true",
        "activation": _parse_enum(ActivationState, args.activation, "--activation", issues),
        "current_type": _parse_enum(CurrentType, args.current_type, "--current-type", issues),
        "sort": _parse_enum(ChargerSortKey, sort_text.removeprefix("-"), "--sort", issues)
        or ChargerSortKey.STATION,
        "descending": sort_text.startswith("-"),
    }
    query = _build_query(ChargerQuery, kwargs, args, issues)
    paged = args.page is not None or args.page_size is not None
    if not paged and args.format != "table":
        items = [item async for item in service.iter_chargers(query)]
        total, number, size = len(items), 1, len(items)
    else:
        page = await service.list_chargers(query)
        items, total, number, size = list(page.items), page.total, page.page, page.page_size
    if args.format == "csv":
        out.write(chargers_to_csv(items))
        return 0
    if args.format == "json":
        rows = [charger_to_json(s, c) for s, c in items]
        _dump({"items": rows, "page": number, "page_size": size, "total": total}, out)
        return 0
    table = [["ID", "CODE", "NAME", "STATION", "STATUS", "OPERATIONAL", "CONNECTORS", "MAX_W"]]
    for station, charger in items:
        status = charger_status(station, charger)
        power = max((c.max_power_w for c in charger.connectors), default=None)
        table.append(
            [
                charger.id,
                charger.code,
                charger.name,
                station.id,
                status.value if status is not None else "-",
                charger_operational_status(station, charger).value,
                str(len(charger.connectors)),
                "-" if power is None else str(power),
            ]
        )
    _table(table, out)
    pages = max(1, -(-total // size))
    out.write(f"page {number} of {pages}, {total} charger(s)\n")
    return 0


async def _charger_qr(args: argparse.Namespace, service: Any, out: TextIO) -> int:
    from .qrcodes import qr_png, qr_svg

    if args.format == "text":
        if args.connector is not None:
            code = await service.charger_qr_code(args.charger_id, args.connector)
            out.write(f"{code.payload}\t{code.label}\n")
            return 0
        _, codes = await service.charger_qr_codes(args.charger_id)
        for code in codes:
            out.write(f"{code.payload}\t{code.label}\n")
        return 0
    code = await service.charger_qr_code(args.charger_id, args.connector)
    try:
        if args.format == "svg":
            data = qr_svg(code.payload, scale=args.scale, title=f"{code.label}: {code.payload}")
            image = data.encode()
        else:
            image = qr_png(code.payload, scale=args.scale)
    except ValueError as exc:
        raise _UserError(f"error: {exc}") from None
    _write_output(args.output, image, out)
    return 0


async def _transactions(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from datetime import datetime

    from .admin import transaction_to_json
    from .charging import ChargingService
    from .domain.transactions import TransactionState
    from .errors import Issue
    from .listing import iter_pages, transactions_to_csv
    from .ports import TransactionQuery, TransactionSortKey

    issues: list[Any] = []

    def moment(text: str | None, option: str) -> datetime | None:
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            issues.append(Issue(f"{option}: expected an ISO 8601 date and time, got {text!r}"))
            return None
        if value.utcoffset() is None:
            issues.append(Issue(f"{option}: give a time zone (e.g. 2026-01-01T00:00:00Z)"))
            return None
        return value

    sort_text = args.sort
    kwargs: dict[str, Any] = {
        "search": args.search,
        "station_id": args.station,
        "state": None if args.state is None else TransactionState(args.state),
        "area_id": args.area,
        "since": moment(args.since, "--since"),
        "until": moment(args.until, "--until"),
        "sort": _parse_enum(TransactionSortKey, sort_text.removeprefix("-"), "--sort", issues)
        or TransactionSortKey.STARTED_AT,
        "descending": sort_text.startswith("-"),
    }
    query = _build_query(TransactionQuery, kwargs, args, issues)
    charging = ChargingService(service.repository)
    paged = args.page is not None or args.page_size is not None
    if not paged and args.format != "table":
        items = [t async for t in iter_pages(charging.list_transactions, query)]
        total, number, size = len(items), 1, len(items)
    else:
        page = await charging.list_transactions(query)
        items, total, number, size = list(page.items), page.total, page.page, page.page_size
    if args.format == "csv":
        out.write(transactions_to_csv(items))
        return 0
    if args.format == "json":
        rows = [transaction_to_json(t) for t in items]
        _dump({"items": rows, "page": number, "page_size": size, "total": total}, out)
        return 0
    table = [["STATION", "TRANSACTION", "CONNECTOR", "ID_TAG", "STATE", "STARTED", "ENERGY_WH"]]
    for t in items:
        started = t.started_at.isoformat() if t.started_at is not None else "-"
        energy = t.energy_wh
        table.append(
            [
                t.station_id,
                t.transaction_id,
                str(t.connector_id),
                t.id_tag or "-",
                t.state.value,
                started,
                "-" if energy is None else str(energy),
            ]
        )
    _table(table, out)
    pages = max(1, -(-total // size))
    out.write(f"page {number} of {pages}, {total} transaction(s)\n")
    return 0


async def _id_tokens(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from .admin import ID_TOKEN_FIELDS, id_token_to_json
    from .admin_json import parse_body
    from .charging import ChargingService
    from .domain.transactions import AuthorizationStatus, IdToken

    charging = ChargingService(service.repository)
    if args.action == "list":
        tokens = await charging.list_id_tokens()
        if args.format == "json":
            _dump({"items": [id_token_to_json(t) for t in tokens]}, out)
            return 0
        table = [["ID_TOKEN", "TYPE", "STATUS", "EXPIRY_DATE", "GROUP_ID"]]
        for token in tokens:
            expiry = token.expiry_date.isoformat() if token.expiry_date is not None else "-"
            table.append(
                [token.id_token, token.type, token.status.value, expiry, token.group_id or "-"]
            )
        _table(table, out)
        out.write(f"{len(tokens)} id token(s)\n")
        return 0
    if args.action == "show":
        _dump(id_token_to_json(await charging.get_id_token(args.id_token)), out)
        return 0
    if args.action == "delete":
        await charging.delete_id_token(args.id_token)
        out.write(f"deleted id token {args.id_token}\n")
        return 0
    named = [("token_type", "type"), ("status", "status")]
    body = _body(args, named)
    for attr, field in (("expiry_date", "expiry_date"), ("group_id", "group_id")):
        value = getattr(args, attr)
        if value is not None:
            body[field] = value or None
    fields = {k: v for k, v in ID_TOKEN_FIELDS.items() if k != "id_token"}
    values = parse_body(body, fields)
    if "status" in values:
        values["status"] = AuthorizationStatus(values["status"])
    if args.action == "create":
        try:
            token = IdToken(id_token=args.id_token, **values)
        except ValueError as exc:
            raise _UserError(f'field "id_token": {exc}') from None
        await charging.add_id_token(token)
    else:
        token = await charging.update_id_token(args.id_token, values)
    _dump(id_token_to_json(token), out)
    return 0


async def _qr(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from .admin_json import charger_to_json, connector_to_json

    target = await service.resolve_qr(args.payload)
    station = target.station
    connector = target.connector
    _dump(
        {
            "payload": args.payload.strip(),
            "station_id": station.id,
            "charger": charger_to_json(station, target.charger),
            "connector": None
            if connector is None
            else connector_to_json(station, target.charger, connector),
        },
        out,
    )
    return 0


async def _map(
    args: argparse.Namespace, service: Any, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    from .admin import map_to_geojson
    from .domain.charger_map import MapQuery
    from .domain.status import charger_status
    from .errors import InvalidInput

    try:
        query = MapQuery(
            latitude=args.lat,
            longitude=args.lon,
            min_power_w=args.min_power_w,
            driver_id=args.driver,
            area_id=args.area,
            radius_m=args.radius_m,
            limit=args.limit,
            operator_view=args.view == "operator",
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    result = await service.map_chargers(query)
    if args.format == "geojson":
        _dump(map_to_geojson(result), out)
        return 0
    table = [["CHARGER", "NAME", "STATION", "AREA", "DISTANCE_M", "MAX_W", "STATUS"]]
    for entry in result.entries:
        status = charger_status(entry.station, entry.charger)
        distance = "-" if entry.distance_m is None else f"{entry.distance_m:.0f}"
        table.append(
            [
                entry.charger.code,
                entry.charger.name,
                entry.station.id,
                entry.area.name,
                distance,
                str(entry.max_power_w),
                status.value if status is not None else "-",
            ]
        )
    _table(table, out)
    unlocated = f", {result.unlocated} without a location" if result.unlocated else ""
    out.write(f"{len(result.entries)} charger(s){unlocated}\n")
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the CLI; returns the exit status (the console script exits with it)."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    stdin = stdin if stdin is not None else sys.stdin
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_run(args, out, err, stdin))
    except _UserError as exc:
        for line in exc.lines:
            err.write(line + "\n")
        return 1
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
