"""The application service: the use cases operators and embedding services call.

:class:`StationService` turns a request into domain calls inside one repository transaction,
and publishes the resulting domain events once the transaction has committed. It owns the
impure parts the domain leaves out: the clock, id generation and salts, all injected so tests
and embedders can replace them. It knows no wire format beyond the admin JSON bodies it
validates (shared by the CLI and the admin API).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final, TypeVar

import attrs

from . import admin_json
from .bus import NullEventSink
from .clock import utc_now
from .domain.activation import SecurityCodeHasher, ThrottlePolicy, activate
from .domain.charger_map import MapQuery, MapResult, map_chargers
from .domain.credentials import hash_password
from .domain.events import (
    ActivationFailed,
    AreaChanged,
    AreaDeleted,
    ChargingProfileAssigned,
    ChargingProfileChanged,
    ChargingProfileDeleted,
    Event,
    StationChanged,
    StationDeleted,
    StationImported,
)
from .domain.mapping import spec_for_connector
from .domain.model import Area, Charger, Connector, ConnectorSpec, Station
from .domain.profiles import ChargingProfile, parse_profile
from .domain.qr import (
    QrCode,
    QrPayloadError,
    QrTarget,
    charger_qr_codes,
    parse_payload,
    qr_code_for,
)
from .domain.qr import resolve as resolve_qr
from .domain.values import ActivationState, Protocol, code_from, parse_code
from .errors import (
    ActivationMismatch,
    Conflict,
    EvchargeError,
    ImportRejected,
    InvalidInput,
    Issue,
    NotFound,
)
from .importing import (
    ImportBatch,
    StationImport,
    check_existing,
    parse_csv,
    parse_single,
    parse_single_json,
    to_station,
)
from .listing import (
    STATION_EXPORT_COLUMNS,
    ChargerQuery,
    charger_matches,
    charger_page,
    chargers_to_csv,
    iter_pages,
    neutralize_formula,
    sort_chargers,
    station_row,
    stations_to_csv,
)
from .ports import EventSink, Page, Repository, StationQuery

__all__ = [
    "EXPORT_COLUMNS",
    "ImportReport",
    "StationService",
    "export_row",
    "neutralize_formula",
    "stations_to_csv",
]

T = TypeVar("T")

_PARALLEL_HASHING_FROM: Final = 64


def _new_id() -> str:
    return uuid.uuid4().hex


@attrs.frozen
class ImportReport:
    """A successful import: the station IDs stored (in file order) and the warnings."""

    imported: tuple[str, ...]
    replaced: tuple[str, ...]
    warnings: tuple[Issue, ...]


EXPORT_COLUMNS: Final = STATION_EXPORT_COLUMNS
"""The columns of the station CSV export (:data:`evcharge_core.listing.STATION_EXPORT_COLUMNS`)."""

export_row = station_row


class StationService:
    """Stations, chargers, connectors and areas: import, activation, CRUD, lists, export."""

    def __init__(
        self,
        repository: Repository,
        *,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], str] = _new_id,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        hasher: SecurityCodeHasher | None = None,
        throttle: ThrottlePolicy | None = None,
        websocket_base_url: str = "ws://localhost:9000/ocpp/",
    ) -> None:
        self.repository = repository
        self.events: EventSink = events if events is not None else NullEventSink()
        self.clock = clock
        self.new_id = new_id
        self.random_bytes = random_bytes
        self.hasher = hasher if hasher is not None else SecurityCodeHasher()
        self.throttle = throttle if throttle is not None else ThrottlePolicy()
        self.websocket_base_url = websocket_base_url

    # --- import ------------------------------------------------------------------------------

    async def import_csv(self, data: bytes | str) -> ImportReport:
        """Import a CSV file (SPEC §5). All or nothing: any error raises
        :class:`~evcharge_core.errors.ImportRejected` and stores nothing."""
        return await self._import(parse_csv(data))

    async def import_single(self, body: object) -> ImportReport:
        """Import one station from its decoded JSON object."""
        return await self._import(parse_single(body))

    async def import_single_json(self, data: bytes | str) -> ImportReport:
        """Import one station from JSON text (syntax errors located by line and column)."""
        return await self._import(parse_single_json(data))

    async def _import(self, batch: ImportBatch) -> ImportReport:
        if batch.errors:
            raise ImportRejected(batch.errors, len(batch.errors), batch.warnings)
        hashes = self._hash_codes(batch.stations)
        ids = [imp.station_id for imp in batch.stations]
        try:
            async with self.repository.transaction() as tx:
                # Read and write in one transaction: a station activated meanwhile must not
                # be overridden.
                existing = await tx.stations.get_many(ids)
                problems = check_existing(batch.stations, existing)
                if problems:
                    raise ImportRejected(problems, len(problems), batch.warnings)
                stations = [
                    to_station(imp, security_code_hash=h, existing=existing.get(imp.station_id))
                    for imp, h in zip(batch.stations, hashes, strict=True)
                ]
                await tx.stations.save_many(stations)
        except Conflict as exc:
            raise ImportRejected([Issue(str(exc))], 1, batch.warnings) from None
        self.events.publish(
            [StationImported(i, replaced=i in existing) for i in ids],
        )
        return ImportReport(
            imported=tuple(ids),
            replaced=tuple(i for i in ids if i in existing),
            warnings=batch.warnings,
        )

    def _hash_codes(self, imports: Sequence[StationImport]) -> list[str]:
        """Every security code's salted hash, in order.

        hashlib releases the GIL while it derives a key, so two threads use both cores. One
        task per half of the list: a future per code would cost more than the hashing, and
        mixing Python work into the threads would make them queue for the GIL.
        """
        jobs = [(imp.security_code, self.random_bytes(16)) for imp in imports]

        def hash_all(part: Sequence[tuple[str, bytes]]) -> list[str]:
            return [self.hasher.hash(code, salt) for code, salt in part]

        if len(jobs) < _PARALLEL_HASHING_FROM:
            return hash_all(jobs)
        half = len(jobs) // 2
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(hash_all, jobs[:half])
            second = hash_all(jobs[half:])
            return first.result() + second

    # --- activation --------------------------------------------------------------------------

    async def activate(self, station_id: str, security_code: str) -> Station:
        """Activate an imported station with its security code (SPEC §5).

        Raises :class:`~evcharge_core.errors.ActivationMismatch` (unknown ID or wrong code,
        deliberately indistinguishable), :class:`~evcharge_core.errors.AlreadyActivated` or
        :class:`~evcharge_core.errors.ActivationThrottled`. Failures are recorded even
        though the error is raised.
        """
        issues = [
            Issue("is required", field=name)
            for name, value in (("station_id", station_id), ("security_code", security_code))
            if not value.strip()
        ]
        if issues:
            raise InvalidInput(issues)
        station_id = station_id.strip()
        now = self.clock()
        failure: EvchargeError | None = None
        events: list[Event] = []
        async with self.repository.transaction() as tx:
            attempts = await tx.activation_attempts.get(station_id)
            station = await tx.stations.get(station_id)
            try:
                activated, event = activate(
                    station,
                    security_code,
                    now,
                    hasher=self.hasher,
                    throttle=self.throttle,
                    attempts=attempts,
                )
            except ActivationMismatch as exc:
                state = self.throttle.record_failure(attempts, now)
                await tx.activation_attempts.save(station_id, state)
                events.append(ActivationFailed(station_id, now, state.failures))
                failure = exc
            else:
                await tx.stations.save(activated)
                await tx.activation_attempts.clear(station_id)
                events.append(event)
        self.events.publish(events)
        if failure is not None:
            raise failure
        return activated

    # --- stations ----------------------------------------------------------------------------

    async def get_station(self, station_id: str) -> Station:
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
        if station is None:
            raise NotFound("station", station_id)
        return station

    async def list_stations(self, query: StationQuery) -> Page[Station]:
        async with self.repository.transaction() as tx:
            return await tx.stations.list(query)

    async def iter_stations(self, query: StationQuery) -> AsyncIterator[Station]:
        """Every station matching ``query``'s filters, page after page."""
        page_number = 1
        while True:
            page = await self.list_stations(attrs.evolve(query, page=page_number, page_size=1000))
            for station in page.items:
                yield station
            if page_number * page.page_size >= page.total or not page.items:
                return
            page_number += 1

    async def create_station(self, body: Mapping[str, Any]) -> Station:
        """Create a station from an admin JSON body (``id`` required). Stations an operator
        creates are active; the security profile defaults to 1 with a password, else 0."""
        values = admin_json.parse_body(body, admin_json.STATION_FIELDS, required=frozenset({"id"}))
        station_id = values.pop("id")
        password = values.pop("password", None)
        values.setdefault("name", station_id)
        values.setdefault("code", code_from(station_id))
        values.setdefault("security_profile", 1 if password else 0)
        if password is not None:
            values["password_hash"] = hash_password(password, self.random_bytes(16))
        station = _build(Station, id=station_id, **values)
        async with self.repository.transaction() as tx:
            if await tx.stations.get(station_id) is not None:
                raise Conflict(f"station {station_id} already exists")
            await self._check_area(tx, station.area_id)
            await tx.stations.save(station)
        self.events.publish([StationChanged(station_id, created=True)])
        return station

    async def update_station(self, station_id: str, body: Mapping[str, Any]) -> Station:
        """Change the fields given in ``body`` (PATCH semantics)."""
        fields = {k: v for k, v in admin_json.STATION_FIELDS.items() if k != "id"}
        values = admin_json.parse_body(body, fields)
        async with self.repository.transaction() as tx:
            station = await self._station(tx, station_id)
            if "password" in values:
                password = values.pop("password")
                values["password_hash"] = (
                    hash_password(password, self.random_bytes(16)) if password else None
                )
            if "boot_configuration" in values:
                given = set(body["boot_configuration"])
                values["boot_configuration"] = attrs.evolve(
                    station.boot_configuration,
                    **{k: getattr(values["boot_configuration"], k) for k in given},
                )
            if "area_id" in values:
                await self._check_area(tx, values["area_id"])
            updated = _evolve(station, **values)
            await tx.stations.save(updated)
        self.events.publish([StationChanged(station_id)])
        return updated

    async def delete_station(self, station_id: str) -> None:
        """Delete the station with its chargers, connectors and OCPP 2.0.1 device model
        (its charging sessions, meter values and notifications stay, as history)."""
        async with self.repository.transaction() as tx:
            if not await tx.stations.delete(station_id):
                raise NotFound("station", station_id)
            await tx.device_model.clear(station_id)
        self.events.publish([StationDeleted(station_id)])

    # --- chargers ----------------------------------------------------------------------------

    async def get_charger(self, charger_id: str) -> tuple[Station, Charger]:
        async with self.repository.transaction() as tx:
            station = await tx.stations.get_by_charger_id(charger_id)
        return _charger_of(station, charger_id)

    async def create_charger(
        self, station_id: str, body: Mapping[str, Any]
    ) -> tuple[Station, Charger]:
        """Add a charger; ``evse_id`` defaults to the next free one and ``code`` to
        ``{station code}-{evse_id}`` (made unique across all chargers)."""
        values = admin_json.parse_body(body, admin_json.CHARGER_FIELDS)
        async with self.repository.transaction() as tx:
            station = await self._station(tx, station_id)
            await self._check_profile(tx, values.get("charging_profile_id"))
            evse_id = values.pop("evse_id", None)
            if evse_id is None:
                evse_id = max((c.evse_id for c in station.chargers), default=0) + 1
            if "code" not in values:
                values["code"] = await self._free_charger_code(tx, f"{station.code}-{evse_id}")
            values.setdefault(
                "name", station.name if not station.chargers else f"{station.name} {evse_id}"
            )
            charger = _build(Charger, id=self.new_id(), evse_id=evse_id, **values)
            updated = _evolve(station, chargers=(*station.chargers, charger))
            await tx.stations.save(updated)
        events: list[Event] = [StationChanged(station_id)]
        if charger.charging_profile_id is not None:
            events.append(
                ChargingProfileAssigned(station_id, charger.id, charger.charging_profile_id)
            )
        self.events.publish(events)
        return updated, charger

    async def update_charger(
        self, charger_id: str, body: Mapping[str, Any]
    ) -> tuple[Station, Charger]:
        values = admin_json.parse_body(body, admin_json.CHARGER_FIELDS)
        async with self.repository.transaction() as tx:
            station, charger = _charger_of(
                await tx.stations.get_by_charger_id(charger_id), charger_id
            )
            await self._check_profile(tx, values.get("charging_profile_id"))
            changed = _evolve(charger, **values)
            updated = _replace_charger(station, changed)
            await tx.stations.save(updated)
        events: list[Event] = [StationChanged(station.id)]
        if changed.charging_profile_id != charger.charging_profile_id:
            events.append(
                ChargingProfileAssigned(
                    station.id,
                    charger_id,
                    changed.charging_profile_id,
                    previous=charger.charging_profile_id,
                )
            )
        self.events.publish(events)
        return updated, changed

    async def delete_charger(self, charger_id: str) -> Station:
        async with self.repository.transaction() as tx:
            station, _ = _charger_of(await tx.stations.get_by_charger_id(charger_id), charger_id)
            chargers = tuple(c for c in station.chargers if c.id != charger_id)
            updated = attrs.evolve(station, chargers=chargers)
            await tx.stations.save(updated)
        self.events.publish([StationChanged(station.id)])
        return updated

    # --- connectors --------------------------------------------------------------------------

    async def get_connector(self, connector_id: str) -> tuple[Station, Charger, Connector]:
        async with self.repository.transaction() as tx:
            station = await tx.stations.get_by_connector_id(connector_id)
        return _connector_of(station, connector_id)

    async def create_connector(
        self, charger_id: str, body: Mapping[str, Any]
    ) -> tuple[Station, Connector]:
        """Add a connector. ``ocpp_id`` defaults to the next free one (station-wide for OCPP
        1.6, within the charger for 2.0.1); the electrical fields not given come from the
        station's connector specification mapped by that ID (SPEC §5)."""
        values = admin_json.parse_body(body, admin_json.CONNECTOR_FIELDS)
        async with self.repository.transaction() as tx:
            station, charger = _charger_of(
                await tx.stations.get_by_charger_id(charger_id), charger_id
            )
            ocpp_id = values.pop("ocpp_id", None)
            if ocpp_id is None:
                ocpp_id = _next_ocpp_id(station, charger)
            spec = _mapped_spec(station, charger, ocpp_id)
            if spec is not None:
                for name in ("standard", "format", "power_type", "voltage", "amperage"):
                    values.setdefault(name, getattr(spec, name))
            missing = [
                Issue("is required (the station has no connector specification)", field=n)
                for n in ("standard", "format", "power_type", "voltage", "amperage")
                if n not in values
            ]
            if missing:
                raise InvalidInput(missing)
            if "code" in values:
                _check_connector_code(charger, values["code"])
            else:
                values["code"] = _free_connector_code(charger, str(ocpp_id))
            values.setdefault("name", f"Connector {ocpp_id}")
            connector = _build(Connector, id=self.new_id(), ocpp_id=ocpp_id, **values)
            changed = attrs.evolve(charger, connectors=(*charger.connectors, connector))
            updated = _build(_replace_charger, station, changed)
            await tx.stations.save(updated)
        self.events.publish([StationChanged(station.id)])
        return updated, connector

    async def update_connector(
        self, connector_id: str, body: Mapping[str, Any]
    ) -> tuple[Station, Connector]:
        values = admin_json.parse_body(body, admin_json.CONNECTOR_FIELDS)
        async with self.repository.transaction() as tx:
            station, charger, connector = _connector_of(
                await tx.stations.get_by_connector_id(connector_id), connector_id
            )
            if "code" in values:
                _check_connector_code(charger, values["code"], but=connector_id)
            changed = _evolve(connector, **values)
            connectors = tuple(changed if c.id == connector_id else c for c in charger.connectors)
            updated = _build(
                _replace_charger, station, attrs.evolve(charger, connectors=connectors)
            )
            await tx.stations.save(updated)
        self.events.publish([StationChanged(station.id)])
        return updated, changed

    async def delete_connector(self, connector_id: str) -> Station:
        async with self.repository.transaction() as tx:
            station, charger, _ = _connector_of(
                await tx.stations.get_by_connector_id(connector_id), connector_id
            )
            connectors = tuple(c for c in charger.connectors if c.id != connector_id)
            updated = _replace_charger(station, attrs.evolve(charger, connectors=connectors))
            await tx.stations.save(updated)
        self.events.publish([StationChanged(station.id)])
        return updated

    # --- areas -------------------------------------------------------------------------------

    async def list_areas(self) -> list[Area]:
        async with self.repository.transaction() as tx:
            return await tx.areas.list()

    async def get_area(self, area_id: str) -> Area:
        async with self.repository.transaction() as tx:
            area = await tx.areas.get(area_id)
        if area is None:
            raise NotFound("area", area_id)
        return area

    async def create_area(self, body: Mapping[str, Any]) -> Area:
        values = admin_json.parse_body(
            body, admin_json.AREA_FIELDS, required=frozenset({"name", "latitude", "longitude"})
        )
        values.setdefault("id", self.new_id())
        area = _build(Area, **values)
        async with self.repository.transaction() as tx:
            if await tx.areas.get(area.id) is not None:
                raise Conflict(f"area {area.id} already exists")
            await tx.areas.save(area)
        self.events.publish([AreaChanged(area.id, created=True)])
        return area

    async def update_area(self, area_id: str, body: Mapping[str, Any]) -> Area:
        fields = {k: v for k, v in admin_json.AREA_FIELDS.items() if k != "id"}
        values = admin_json.parse_body(body, fields)
        async with self.repository.transaction() as tx:
            area = await tx.areas.get(area_id)
            if area is None:
                raise NotFound("area", area_id)
            updated = _evolve(area, **values)
            await tx.areas.save(updated)
        self.events.publish([AreaChanged(area_id)])
        return updated

    async def delete_area(self, area_id: str) -> None:
        """Delete an area that no station belongs to (move or delete those first)."""
        async with self.repository.transaction() as tx:
            users = await tx.stations.list(StationQuery(area_id=area_id, page_size=1))
            if users.total:
                raise Conflict(f"area {area_id} still has {users.total} station(s)")
            if not await tx.areas.delete(area_id):
                raise NotFound("area", area_id)
        self.events.publish([AreaDeleted(area_id)])

    # --- charging profiles -------------------------------------------------------------------

    async def list_profiles(self) -> list[ChargingProfile]:
        """Every charging profile, by name then id."""
        async with self.repository.transaction() as tx:
            return await tx.charging_profiles.list()

    async def get_profile(self, profile_id: str) -> ChargingProfile:
        async with self.repository.transaction() as tx:
            profile = await tx.charging_profiles.get(profile_id)
        if profile is None:
            raise NotFound("charging profile", profile_id)
        return profile

    async def create_profile(self, body: Mapping[str, Any]) -> ChargingProfile:
        """Create a profile from its JSON form (:func:`~evcharge_core.domain.profiles.
        parse_profile`), with an optional ``id`` (a code; default: a new id). Raises
        :class:`~evcharge_core.errors.InvalidInput` listing every problem, located by field."""
        if not isinstance(body, Mapping):
            raise InvalidInput("expected an object with the profile's fields")
        fields = dict(body)
        profile_id = self.new_id()
        if "id" in fields:
            given = fields.pop("id")
            problem = None if isinstance(given, str) else "must be a string"
            if isinstance(given, str):
                try:
                    profile_id = parse_code(given)
                except ValueError as exc:
                    problem = str(exc)
            if problem is not None:
                issues = [Issue(problem, field="id")]
                try:
                    parse_profile(fields, profile_id="-")
                except InvalidInput as more:
                    issues.extend(more.issues)
                raise InvalidInput(issues)
        profile = parse_profile(fields, profile_id=profile_id)
        async with self.repository.transaction() as tx:
            if await tx.charging_profiles.get(profile.id) is not None:
                raise Conflict(f"charging profile {profile.id} already exists")
            await tx.charging_profiles.save(profile)
        self.events.publish([ChargingProfileChanged(profile.id, created=True)])
        return profile

    async def update_profile(self, profile_id: str, body: Mapping[str, Any]) -> ChargingProfile:
        """Change the fields given (PATCH semantics: ``periods``, if given, replaces them
        all); the result is checked whole, as :meth:`create_profile` checks."""
        if not isinstance(body, Mapping):
            raise InvalidInput("expected an object with the profile's fields")
        async with self.repository.transaction() as tx:
            stored = await tx.charging_profiles.get(profile_id)
            if stored is None:
                raise NotFound("charging profile", profile_id)
            merged = admin_json.profile_to_json(stored)
            del merged["id"]
            if "recurrence" in body and "periods" not in body:
                # the stored starts are written for the old recurrence: keep them as seconds
                merged["periods"] = [
                    {"start": p.start_s, "limit": p.limit}
                    | ({"number_phases": p.number_phases} if p.number_phases else {})
                    for p in stored.periods
                ]
            merged.update(body)
            profile = parse_profile(merged, profile_id=profile_id)
            await tx.charging_profiles.save(profile)
        self.events.publish([ChargingProfileChanged(profile_id)])
        return profile

    async def delete_profile(self, profile_id: str) -> None:
        """Delete a profile no charger is assigned (:class:`~evcharge_core.errors.Conflict`
        names one that still is)."""
        async with self.repository.transaction() as tx:
            if not await tx.charging_profiles.delete(profile_id):
                raise NotFound("charging profile", profile_id)
        self.events.publish([ChargingProfileDeleted(profile_id)])

    # --- the charger list --------------------------------------------------------------------

    async def list_chargers(self, query: ChargerQuery) -> Page[tuple[Station, Charger]]:
        """A page of chargers across stations, with their stations (rules:
        :mod:`evcharge_core.listing`). The station-level filters (station, area, connected,
        activation) are asked of the repository's station list; the rest is applied to
        the chargers of the stations it returns."""
        return charger_page([s async for s in self._stations_for(query)], query)

    async def iter_chargers(self, query: ChargerQuery) -> AsyncIterator[tuple[Station, Charger]]:
        """Every charger matching ``query``'s filters, in its order (paging ignored)."""
        stations = [s async for s in self._stations_for(query)]
        items = [(s, c) for s in stations for c in s.chargers if charger_matches(s, c, query)]
        for item in sort_chargers(items, query.sort, descending=query.descending):
            yield item

    async def export_chargers_csv(self, query: ChargerQuery) -> str:
        """Every charger matching the filters as CSV (formula-safe, see
        :mod:`evcharge_core.listing`)."""
        return chargers_to_csv([item async for item in self.iter_chargers(query)])

    async def export_chargers_json(self, query: ChargerQuery) -> str:
        """Every charger matching the filters as a JSON array of charger objects."""
        items = [admin_json.charger_to_json(s, c) async for s, c in self.iter_chargers(query)]
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"

    async def _stations_for(self, query: ChargerQuery) -> AsyncIterator[Station]:
        if query.station_id is not None:
            async with self.repository.transaction() as tx:
                station = await tx.stations.get(query.station_id)
            if station is not None:
                yield station
            return
        station_query = StationQuery(
            area_id=query.area_id, connected=query.connected, activation=query.activation
        )
        async for station in iter_pages(self.list_stations, station_query):
            yield station

    # --- QR codes ----------------------------------------------------------------------------

    async def charger_qr_codes(self, charger_id: str) -> tuple[Station, tuple[QrCode, ...]]:
        """The charger's QR codes (one, or one per connector: :mod:`evcharge_core.domain.qr`)."""
        station, charger = await self.get_charger(charger_id)
        return station, charger_qr_codes(station, charger)

    async def charger_qr_code(self, charger_id: str, connector_id: str | None = None) -> QrCode:
        """The QR code of the charger, or of one of its connectors (required when its
        connectors each have their own: :class:`~evcharge_core.errors.InvalidInput`
        otherwise, as for a connector of another charger)."""
        station, charger = await self.get_charger(charger_id)
        connector = None
        if connector_id is not None:
            connector = next((c for c in charger.connectors if c.id == connector_id), None)
            if connector is None:
                problem = f"charger {charger_id} has no connector {connector_id}"
                raise InvalidInput([Issue(problem, field="connector")])
        try:
            return qr_code_for(station, charger, connector)
        except ValueError as error:
            raise InvalidInput([Issue(str(error), field="connector")]) from None

    async def station_qr_codes(self, station_id: str) -> tuple[Station, tuple[QrCode, ...]]:
        """Every QR code of the station's chargers, charger by charger (for a printed sheet)."""
        station = await self.get_station(station_id)
        codes = tuple(code for c in station.chargers for code in charger_qr_codes(station, c))
        return station, codes

    async def resolve_qr(self, payload: str) -> QrTarget:
        """The station, charger and connector a scanned QR payload names
        (:func:`evcharge_core.domain.qr.resolve`); :class:`~evcharge_core.errors.InvalidInput`
        (field ``payload``) saying why if it names none: not a payload, no such charger or
        connector, or a charger whose connectors each have their own code."""
        try:
            parsed = parse_payload(payload)
        except QrPayloadError as error:
            raise InvalidInput([Issue(str(error), field="payload")]) from None
        async with self.repository.transaction() as tx:
            station = await tx.stations.get_by_charger_code(parsed.charger_code)
        if station is None:
            raise InvalidInput(
                [Issue(f"no charger with code {parsed.charger_code!r}", field="payload")]
            )
        try:
            return resolve_qr(station, parsed)
        except QrPayloadError as error:
            raise InvalidInput([Issue(str(error), field="payload")]) from None

    # --- the map -----------------------------------------------------------------------------

    async def map_chargers(self, query: MapQuery) -> MapResult:
        """The chargers on the map for ``query`` (rules: :mod:`evcharge_core.domain.charger_map`).

        For a driver (``query.driver_id``), the group id of the id token of that id, if one is
        registered, is added to ``query.driver_groups``: an area's private group may list a
        driver's id (an id token, or an id of your own) or an id token group.
        """
        async with self.repository.transaction() as tx:
            areas = {a.id: a for a in await tx.areas.list()}
            if query.driver_id is not None and not query.operator_view:
                token = await tx.id_tokens.get(query.driver_id)
                if token is not None and token.group_id is not None:
                    groups = {*query.driver_groups, token.group_id}
                    query = attrs.evolve(query, driver_groups=groups)
        station_query = StationQuery(
            area_id=query.area_id,
            activation=None if query.operator_view else ActivationState.ACTIVE,
        )
        stations = [s async for s in iter_pages(self.list_stations, station_query)]
        return map_chargers(stations, areas, query)

    # --- export ------------------------------------------------------------------------------

    def station_json(self, station: Station) -> dict[str, Any]:
        return admin_json.station_to_json(station, websocket_base_url=self.websocket_base_url)

    async def export_json(self, query: StationQuery) -> str:
        """Every station matching the filters as a JSON array of station objects."""
        items = [self.station_json(s) async for s in self.iter_stations(query)]
        return json.dumps(items, indent=2, ensure_ascii=False) + "\n"

    async def export_csv(self, query: StationQuery) -> str:
        """Every station matching the filters as CSV (``,``-separated, header first), safe to
        open in a spreadsheet: see :func:`neutralize_formula`."""
        return stations_to_csv([s async for s in self.iter_stations(query)])

    # --- helpers -----------------------------------------------------------------------------

    async def _station(self, tx: Any, station_id: str) -> Station:
        station: Station | None = await tx.stations.get(station_id)
        if station is None:
            raise NotFound("station", station_id)
        return station

    async def _check_area(self, tx: Any, area_id: str | None) -> None:
        if area_id is not None and await tx.areas.get(area_id) is None:
            raise InvalidInput([Issue(f"no area {area_id!r}", field="area_id")])

    async def _check_profile(self, tx: Any, profile_id: str | None) -> None:
        if profile_id is not None and await tx.charging_profiles.get(profile_id) is None:
            raise InvalidInput(
                [Issue(f"no charging profile {profile_id!r}", field="charging_profile_id")]
            )

    async def _free_charger_code(self, tx: Any, wanted: str) -> str:
        base = code_from(wanted)[:60]  # room for "-N"
        candidate, n = base, 1
        while await tx.stations.get_by_charger_code(candidate) is not None:
            n += 1
            candidate = f"{base}-{n}"
        return candidate


def _build(factory: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a model constructor, turning its validation errors into InvalidInput."""
    try:
        return factory(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(str(exc)) from None


def _evolve(instance: T, **changes: Any) -> T:
    """:func:`attrs.evolve`, turning the model's validation errors into InvalidInput."""
    try:
        return attrs.evolve(instance, **changes)  # type: ignore[misc]  # attrs classes only
    except (ValueError, TypeError) as exc:
        raise InvalidInput(str(exc)) from None


def _replace_charger(station: Station, charger: Charger) -> Station:
    chargers = tuple(charger if c.id == charger.id else c for c in station.chargers)
    return attrs.evolve(station, chargers=chargers)


def _charger_of(station: Station | None, charger_id: str) -> tuple[Station, Charger]:
    charger = station.charger_by_id(charger_id) if station is not None else None
    if station is None or charger is None:
        raise NotFound("charger", charger_id)
    return station, charger


def _connector_of(station: Station | None, connector_id: str) -> tuple[Station, Charger, Connector]:
    if station is not None:
        for charger, connector in station.iter_connectors():
            if connector.id == connector_id:
                return station, charger, connector
    raise NotFound("connector", connector_id)


def _check_connector_code(charger: Charger, code: str, *, but: str | None = None) -> None:
    """Connector codes are unique within their charger: a QR payload names the connector by
    its code (:mod:`evcharge_core.domain.qr`)."""
    if any(c.code == code and c.id != but for c in charger.connectors):
        raise Conflict(f"charger {charger.code} already has a connector with code {code!r}")


def _free_connector_code(charger: Charger, wanted: str) -> str:
    taken = {c.code for c in charger.connectors}
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate


def _next_ocpp_id(station: Station, charger: Charger) -> int:
    if station.protocol is Protocol.OCPP201:
        return max((c.ocpp_id for c in charger.connectors), default=0) + 1
    return max((c.ocpp_id for _, c in station.iter_connectors()), default=0) + 1


def _mapped_spec(station: Station, charger: Charger, ocpp_id: int) -> ConnectorSpec | None:
    if not station.connector_specifications:
        return None
    key = charger.evse_id if station.protocol is Protocol.OCPP201 else ocpp_id
    return spec_for_connector(station.connector_specifications, key)
