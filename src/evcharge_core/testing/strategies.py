"""Hypothesis strategies that build *valid* domain objects.

Every strategy here draws values the model accepts as they are (normal-form codes and MAC
addresses, aware UTC datetimes, ids from the allowed alphabets), so a test can hand them to
any layer without filtering. They are kept small (a few chargers and connectors per station)
so that property tests stay fast.

* :func:`stations` draws one station whose chargers and connectors are consistent: charger
  ids, connector ids, charger codes and connector codes are unique inside the station (and
  no charger shares an id with a connector), EVSE ids are distinct, and OCPP connector ids
  are distinct across the station for OCPP 1.6 (and unset protocols), within each EVSE for
  OCPP 2.0.1. It draws operator-created stations, imported (inactive) ones and imported
  ones that were activated.
* :func:`station_lists` draws several stations that can be stored together: no two share a
  station id, station code, charger code, charger id or connector id.
* :func:`transactions` draws charging sessions (active, ended, or orphan stops),
  :func:`id_tokens` entries of the authorisation registry, :func:`meter_samples` sampled
  values and :func:`notifications` station-initiated messages.
* Every strategy that draws an identifier takes the strategy to draw it from, so a test can
  narrow the pools (``st.sampled_from([...])``) to make collisions and ties likely.

Importing this module requires hypothesis (the ``test`` extra).
"""

from __future__ import annotations

import functools
import json
import string
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeVar

from hypothesis import assume
from hypothesis import strategies as st

from ..adapters.memory import station_keys
from ..domain.activation import ThrottleState
from ..domain.device_model import ATTRIBUTE_TYPES, MUTABILITIES, DeviceVariable, VariableKey
from ..domain.model import (
    Activation,
    Area,
    BootConfiguration,
    Charger,
    Connection,
    Connectivity,
    Connector,
    ConnectorSpec,
    ReportedInfo,
    Station,
    StatusRecord,
)
from ..domain.profiles import MAX_LIMIT, ChargingProfile, ProfilePeriod, RateUnit, Recurrence
from ..domain.transactions import (
    AuthorizationStatus,
    IdToken,
    MeterSample,
    Transaction,
    TransactionState,
)
from ..domain.values import (
    MAX_AMPERAGE,
    MAX_VOLTAGE,
    MIN_AMPERAGE,
    MIN_VOLTAGE,
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    CurrentType,
    PhaseWiring,
    PowerType,
    Protocol,
    RegistrationStatus,
)
from ..ports import StationNotification, TransactionEventRecord

__all__ = [
    "CODE_ALPHABET",
    "STATION_ID_ALPHABET",
    "activations",
    "areas",
    "chargers",
    "charging_profiles",
    "codes",
    "connections",
    "connector_specs",
    "connectors",
    "device_variables",
    "entity_ids",
    "id_tags",
    "id_tokens",
    "macs",
    "meter_samples",
    "names",
    "notifications",
    "reported_infos",
    "station_ids",
    "station_keys",
    "station_lists",
    "stations",
    "status_records",
    "throttle_states",
    "transaction_event_records",
    "transaction_ids",
    "transactions",
    "utc_datetimes",
    "variable_keys",
]

T = TypeVar("T")

STATION_ID_ALPHABET: Final = string.ascii_letters + string.digits + "._-*=+|@"
"""The characters of an OCPP station identity (see
:func:`~evcharge_core.domain.values.parse_station_id`)."""
CODE_ALPHABET: Final = string.ascii_letters + string.digits + "._-"
"""The characters of a station, charger or connector code (see
:func:`~evcharge_core.domain.values.parse_code`)."""

# Hypothesis wants naive bounds and attaches the time zone itself.
_MIN_TIME: Final = datetime(2000, 1, 1)  # noqa: DTZ001 - naive on purpose, see above
_MAX_TIME: Final = datetime(2099, 12, 31)  # noqa: DTZ001 - naive on purpose, see above

_SHORT_TEXT: Final = st.text(max_size=12)
_RARELY: Final = st.sampled_from((False, False, False, True))
_OPTIONAL_TEXT: Final = st.none() | _SHORT_TEXT


# --- scalars ---------------------------------------------------------------------------------


@functools.cache
def station_ids(max_size: int = 12) -> st.SearchStrategy[str]:
    """OCPP station identities: 1 to ``max_size`` (at most 48) characters of the allowed set."""
    return st.text(STATION_ID_ALPHABET, min_size=1, max_size=min(max_size, 48))


@functools.cache
def codes(max_size: int = 12) -> st.SearchStrategy[str]:
    """Station, charger or connector codes: 1 to ``max_size`` (at most 64) characters."""
    return st.text(CODE_ALPHABET, min_size=1, max_size=min(max_size, 64))


@functools.cache
def entity_ids(prefix: str = "") -> st.SearchStrategy[str]:
    """Charger, connector and area ids: short opaque strings (uuids in practice) after
    ``prefix``. Chargers and connectors default to different prefixes, so that a drawn
    station never needs rejecting for a charger and a connector sharing an id."""
    return st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=10).map(
        lambda text: prefix + text
    )


@functools.cache
def names() -> st.SearchStrategy[str]:
    """Display names: mostly arbitrary text, often one of a few (so that sorting has ties
    and case-insensitive search has something to fold)."""
    return st.sampled_from(["Depot", "depot", "DEPOT 2", "Ärzte", "Straße", ""]) | st.text(
        max_size=16
    )


@functools.cache
def macs() -> st.SearchStrategy[str]:
    """MAC addresses in normal form, ``AA:BB:CC:DD:EE:FF``."""
    return st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02X}" for x in b))


@functools.cache
def serial_numbers() -> st.SearchStrategy[str]:
    """Serial numbers: no whitespace, at most 255 characters (kept short here)."""
    return st.text(
        st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
        min_size=1,
        max_size=16,
    )


@functools.cache
def utc_datetimes() -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC datetimes, microsecond precision, years 2000 to 2099."""
    return st.datetimes(min_value=_MIN_TIME, max_value=_MAX_TIME, timezones=st.just(UTC))


@functools.cache
def _custom_fields() -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)


# --- value objects ---------------------------------------------------------------------------


@functools.cache
def status_records() -> st.SearchStrategy[StatusRecord]:
    """Applied status reports."""
    return st.builds(
        StatusRecord,
        status=st.sampled_from(ConnectorStatus),
        timestamp=utc_datetimes(),
        error_code=_optional(st.sampled_from(["NoError", "GroundFailure", "OtherError"])),
        info=_OPTIONAL_TEXT,
    )


@functools.cache
def connector_specs() -> st.SearchStrategy[ConnectorSpec]:
    """Connector specifications as an import carries them."""
    return st.builds(
        ConnectorSpec,
        standard=st.sampled_from(ConnectorStandard),
        format=st.sampled_from(ConnectorFormat),
        power_type=st.sampled_from(PowerType),
        voltage=st.integers(MIN_VOLTAGE, MAX_VOLTAGE),
        amperage=st.integers(MIN_AMPERAGE, MAX_AMPERAGE),
    )


@functools.cache
def reported_infos() -> st.SearchStrategy[ReportedInfo]:
    """What a station reports about itself (often nothing yet)."""
    return st.just(ReportedInfo()) | st.builds(
        ReportedInfo,
        vendor=_OPTIONAL_TEXT,
        model=_OPTIONAL_TEXT,
        serial_number=_OPTIONAL_TEXT,
        firmware_version=_OPTIONAL_TEXT,
        iccid=_OPTIONAL_TEXT,
        imsi=_OPTIONAL_TEXT,
        meter_type=_OPTIONAL_TEXT,
        meter_serial_number=_OPTIONAL_TEXT,
    )


@functools.cache
def connections() -> st.SearchStrategy[Connection]:
    """Connection states: never seen, connected, or disconnected after being seen."""
    return st.just(Connection()) | st.builds(
        Connection,
        connected=st.booleans(),
        connected_since=_optional(utc_datetimes()),
        last_seen=_optional(utc_datetimes()),
        subprotocol=_optional(st.sampled_from(Protocol)),
    )


@functools.cache
def activations(state: ActivationState | None = None) -> st.SearchStrategy[Activation]:
    """Activation states (``state`` fixes the state)."""
    states = st.sampled_from(ActivationState) if state is None else st.just(state)
    return st.builds(Activation, state=states, activated_at=_optional(utc_datetimes()))


@functools.cache
def throttle_states() -> st.SearchStrategy[ThrottleState]:
    """Failed-activation counters, locked or not."""
    return st.builds(
        ThrottleState,
        failures=st.integers(1, 50),
        last_failure_at=utc_datetimes(),
        locked_until=_optional(utc_datetimes()),
    )


@functools.cache
def areas(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Area]:
    """Charging areas."""
    return st.builds(
        Area,
        id=entity_ids() if ids is None else ids,
        name=names(),
        latitude=st.floats(-90.0, 90.0, allow_nan=False),
        longitude=st.floats(-180.0, 180.0, allow_nan=False),
        address=_OPTIONAL_TEXT,
        output_limit_a=st.none() | st.integers(1, 10_000),
        output_limit_w=st.none() | st.integers(1, 10_000_000),
        private_group=st.frozensets(st.text(string.ascii_lowercase, max_size=6), max_size=3),
        time_zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
        phase_voltage=st.sampled_from([230, 230, 120, 240]),
    )


@st.composite
def charging_profiles(
    draw: st.DrawFn, ids: st.SearchStrategy[str] | None = None, *, max_periods: int = 6
) -> ChargingProfile:
    """Valid charging profiles: either unit and recurrence, starts unique within the cycle
    (whole minutes mostly), limits over the whole allowed range."""
    unit = draw(st.sampled_from(RateUnit))
    recurrence = draw(st.sampled_from(Recurrence))
    grain = draw(st.sampled_from([60, 900, 1]))
    starts = draw(
        st.lists(
            st.integers(0, recurrence.cycle_s // grain - 1).map(lambda n: n * grain),
            min_size=1,
            max_size=max_periods,
            unique=True,
        )
    )
    periods = [
        ProfilePeriod(
            start,
            draw(st.integers(0, MAX_LIMIT[unit.value])),
            draw(st.none() | st.sampled_from([1, 2, 3])),
        )
        for start in starts
    ]
    return ChargingProfile(
        draw(entity_ids() if ids is None else ids),
        draw(names().filter(lambda name: bool(name.strip()))),
        unit,
        recurrence,
        periods,
    )


# --- the aggregate ---------------------------------------------------------------------------


@functools.cache
def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


@functools.cache
def _optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


@functools.cache
def _lists_of(elements: st.SearchStrategy[T], n: int) -> st.SearchStrategy[list[T]]:
    return st.lists(elements, min_size=n, max_size=n, unique=True)


def _unique(
    draw: st.DrawFn, elements: st.SearchStrategy[T], n: int, avoid: set[T] | None = None
) -> list[T]:
    """``n`` distinct values, none of them in ``avoid`` (rejecting the rare overlap)."""
    result: list[T] = draw(_lists_of(elements, n))
    if avoid:
        assume(avoid.isdisjoint(result))
    return result


@functools.cache
def _connector_details() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "spec": connector_specs(),
            "name": names(),
            "wattage_limit": _optional(_ints(1, 500_000)),
            "power_factor": st.sampled_from([1.0, 0.95, 0.0]) | st.floats(0.0, 1.0),
            "custom_fields": _custom_fields(),
            "status": _optional(status_records()),
            "closed": _RARELY,
            "phase": st.sampled_from(PhaseWiring),
        }
    )


@functools.cache
def _charger_details() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": names(),
            "physical_address": _optional(macs()),
            "reservable": st.booleans(),
            "roaming": st.booleans(),
            "current_type": st.sampled_from(CurrentType),
            "charging_profile_id": _optional(entity_ids()),
            "custom_fields": _custom_fields(),
            "closed": _RARELY,
        }
    )


@functools.cache
def _station_details() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": names(),
            "visible": st.booleans(),
            "physical_address": _optional(macs()),
            "boot_configuration": st.builds(BootConfiguration),
            "security_profile": _ints(0, 3),
            "password_hash": _optional(st.just("sha256$c2FsdA==$aGFzaA==")),
            "registration_status": st.sampled_from(RegistrationStatus),
            "serial_number": _optional(serial_numbers()),
            "connection": connections(),
            "station_status": _optional(status_records()),
            "closed": _RARELY,
        }
    )


@functools.cache
def _import_details() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "manufacturer": st.text(min_size=1, max_size=12),
            "article_number": _OPTIONAL_TEXT,
            "connectivity": st.sampled_from(
                [
                    Connectivity(wifi=True, gsm=False),
                    Connectivity(wifi=False, gsm=True),
                    Connectivity(wifi=True, gsm=True),
                ]
            ),
            "connector_specifications": st.lists(connector_specs(), min_size=1, max_size=3),
        }
    )


_DEFAULT_AREA_IDS: Final = st.none() | st.sampled_from(["area-1", "area-2", "area-3"])
_PROTOCOLS: Final = st.sampled_from([Protocol.OCPP16, Protocol.OCPP201, None])


def _connector(draw: st.DrawFn, connector_id: str, code: str, ocpp_id: int) -> Connector:
    details = draw(_connector_details())
    spec: ConnectorSpec = details.pop("spec")
    return Connector(
        id=connector_id,
        ocpp_id=ocpp_id,
        code=code,
        standard=spec.standard,
        format=spec.format,
        power_type=spec.power_type,
        voltage=spec.voltage,
        amperage=spec.amperage,
        **details,
    )


def _charger(
    draw: st.DrawFn,
    charger_id: str,
    code: str,
    evse_id: int,
    parts: list[tuple[str, str, int]],
) -> Charger:
    return Charger(
        id=charger_id,
        evse_id=evse_id,
        code=code,
        connectors=tuple(_connector(draw, *part) for part in parts),
        **draw(_charger_details()),
    )


@st.composite
def connectors(
    draw: st.DrawFn,
    /,
    *,
    ids: st.SearchStrategy[str] | None = None,
    code_strategy: st.SearchStrategy[str] | None = None,
    ocpp_ids: st.SearchStrategy[int] | None = None,
) -> Connector:
    """One connector (on its own: uniqueness is the business of :func:`chargers` and
    :func:`stations`)."""
    return _connector(
        draw,
        draw(entity_ids("k-") if ids is None else ids),
        draw(codes() if code_strategy is None else code_strategy),
        draw(_ints(1, 8) if ocpp_ids is None else ocpp_ids),
    )


@st.composite
def chargers(
    draw: st.DrawFn,
    /,
    *,
    ids: st.SearchStrategy[str] | None = None,
    code_strategy: st.SearchStrategy[str] | None = None,
    connector_ids: st.SearchStrategy[str] | None = None,
    max_connectors: int = 3,
) -> Charger:
    """One charger with 0 to ``max_connectors`` connectors of distinct ids, codes and OCPP
    ids (none sharing the charger's id)."""
    code_strategy = codes() if code_strategy is None else code_strategy
    charger_id = draw(entity_ids("ch-") if ids is None else ids)
    n = draw(_ints(0, max_connectors))
    connector_id_list = _unique(
        draw, entity_ids("k-") if connector_ids is None else connector_ids, n, {charger_id}
    )
    connector_codes = _unique(draw, code_strategy, n)
    ocpp_ids = _unique(draw, _ints(1, 2 * max_connectors + 1), n)
    return _charger(
        draw,
        charger_id,
        draw(code_strategy),
        draw(_ints(1, 8)),
        list(zip(connector_id_list, connector_codes, ocpp_ids, strict=True)),
    )


StationKind = Literal["operator", "imported", "activated"]
"""How a station came to be: see :func:`stations`."""
_KINDS: Final[tuple[StationKind, ...]] = ("operator", "imported", "activated")


@st.composite
def stations(
    draw: st.DrawFn,
    /,
    *,
    ids: st.SearchStrategy[str] | None = None,
    code_strategy: st.SearchStrategy[str] | None = None,
    charger_ids: st.SearchStrategy[str] | None = None,
    connector_ids: st.SearchStrategy[str] | None = None,
    area_ids: st.SearchStrategy[str | None] | None = None,
    kind: StationKind | None = None,
    max_chargers: int = 3,
    max_connectors: int = 3,
) -> Station:
    """One valid station.

    ``kind`` is ``"operator"`` (created by an operator: active, with chargers),
    ``"imported"`` (inactive, no protocol yet, connector specifications, no chargers) or
    ``"activated"`` (imported, then activated: specifications and chargers); drawn when
    ``None``. ``ids`` draws the station id, ``code_strategy`` the station's, its chargers'
    and its connectors' codes, ``charger_ids`` and ``connector_ids`` the ids of its parts
    (give them disjoint pools), ``area_ids`` its area (default: none or one of three).
    """
    kind = draw(st.sampled_from(_KINDS)) if kind is None else kind
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    code_strategy = codes() if code_strategy is None else code_strategy
    station_id = draw(station_ids() if ids is None else ids)
    imported = kind != "operator"
    protocol: Protocol | None = None if kind == "imported" else draw(_PROTOCOLS)

    n_chargers = 0 if kind == "imported" else draw(_ints(0, max_chargers))
    counts = [draw(_ints(0, max_connectors)) for _ in range(n_chargers)]
    total = sum(counts)
    charger_id_list = _unique(
        draw, entity_ids("ch-") if charger_ids is None else charger_ids, n_chargers
    )
    connector_id_list = _unique(
        draw,
        entity_ids("k-") if connector_ids is None else connector_ids,
        total,
        set(charger_id_list),
    )
    charger_codes = _unique(draw, code_strategy, n_chargers)
    connector_codes = _unique(draw, code_strategy, total)
    evse_ids = _unique(draw, _ints(1, 2 * max_chargers + 1), n_chargers)
    ocpp_groups: list[list[int]] = []
    if protocol is Protocol.OCPP201:
        # OCPP 2.0.1 numbers connectors within their EVSE.
        ocpp_groups = [_unique(draw, _ints(1, 2 * max_connectors + 1), n) for n in counts]
    else:
        # OCPP 1.6 (and a station that has not said yet) numbers them across the station.
        flat = _unique(draw, _ints(1, 2 * total + 1), total)
        start = 0
        for n in counts:
            ocpp_groups.append(flat[start : start + n])
            start += n

    built: list[Charger] = []
    offset = 0
    for index, n in enumerate(counts):
        parts = list(
            zip(
                connector_id_list[offset : offset + n],
                connector_codes[offset : offset + n],
                ocpp_groups[index],
                strict=True,
            )
        )
        offset += n
        built.append(
            _charger(draw, charger_id_list[index], charger_codes[index], evse_ids[index], parts)
        )

    state = ActivationState.INACTIVE if kind == "imported" else ActivationState.ACTIVE
    import_data: dict[str, Any] = {}
    if imported:
        import_data = draw(_import_details())
        import_data["security_code_hash"] = "pbkdf2_sha256$100$c2FsdA==$aGFzaA=="
    return Station(
        id=station_id,
        code=draw(code_strategy),
        protocol=protocol,
        area_id=draw(_DEFAULT_AREA_IDS if area_ids is None else area_ids),
        activation=draw(activations(state)),
        reported=ReportedInfo() if kind == "imported" else draw(reported_infos()),
        chargers=tuple(built),
        **draw(_station_details()),
        **import_data,
    )


@st.composite
def station_lists(
    draw: st.DrawFn,
    /,
    *,
    min_size: int = 0,
    max_size: int = 6,
    **station_kwargs: Any,
) -> list[Station]:
    """Stations that can be stored together: distinct station ids, and no station code,
    charger code, charger id or connector id shared between two of them. Keyword arguments
    go to :func:`stations`."""
    target = draw(_ints(min_size, max_size))
    one = stations(**station_kwargs)
    result: list[Station] = []
    seen_ids: set[str] = set()
    seen_keys: set[tuple[str, str]] = set()
    for _ in range(3 * target):
        if len(result) == target:
            break
        station = draw(one)
        keys = station_keys(station)
        if station.id in seen_ids or seen_keys.intersection(keys):
            continue
        result.append(station)
        seen_ids.add(station.id)
        seen_keys.update(keys)
    assume(len(result) >= min_size)
    return result


# --- charging sessions, id tokens, meter values, notifications -------------------------------

_MAX_WH: Final = 10**9
_ID_TOKEN_TYPES: Final = st.sampled_from(
    ["ISO14443", "ISO15693", "eMAID", "Central", "KeyCode", "Local", "MacAddress"]
)
_STOP_REASONS: Final = st.sampled_from(
    ["Local", "Remote", "EVDisconnected", "PowerLoss", "Reboot", "DeAuthorized", "Other"]
)
_NOTIFICATION_ACTIONS: Final = st.sampled_from(
    [
        "FirmwareStatusNotification",
        "DiagnosticsStatusNotification",
        "LogStatusNotification",
        "SecurityEventNotification",
        "DataTransfer",
    ]
)
TransactionKind = Literal["active", "ended", "orphan"]
"""What a drawn charging session is: see :func:`transactions`."""
_TRANSACTION_KINDS: Final[tuple[TransactionKind, ...]] = ("active", "ended", "orphan")


@functools.cache
def transaction_ids() -> st.SearchStrategy[str]:
    """Transaction ids: OCPP 1.6 integers as decimal strings, or OCPP 2.0.1 strings of up to
    36 characters chosen by the station."""
    return st.integers(1, 2**31 - 1).map(str) | st.text(
        string.ascii_letters + string.digits + "-", min_size=1, max_size=36
    )


@functools.cache
def id_tags() -> st.SearchStrategy[str]:
    """Id tags (RFID UIDs, app tokens): 1 to 20 characters, often one of a few that differ in
    case only (so that ordering by code point shows)."""
    return st.sampled_from(["04A2B3C4D5", "tag", "TAG", "Tag-1", "äb"]) | st.text(
        min_size=1, max_size=20
    )


@functools.cache
def _payloads() -> st.SearchStrategy[str]:
    values = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=8)
    return st.dictionaries(st.text(max_size=8), values, max_size=3).map(
        lambda payload: json.dumps(payload, sort_keys=True)
    )


@st.composite
def transactions(
    draw: st.DrawFn,
    /,
    *,
    ids: st.SearchStrategy[str] | None = None,
    station_id_strategy: st.SearchStrategy[str] | None = None,
    connector_numbers: st.SearchStrategy[int] | None = None,
    id_tag_strategy: st.SearchStrategy[str | None] | None = None,
    time_strategy: st.SearchStrategy[datetime] | None = None,
    meter_strategy: st.SearchStrategy[int] | None = None,
    kind: TransactionKind | None = None,
) -> Transaction:
    """One charging session as the CSMS stores it.

    ``kind`` is ``"active"`` (started, not stopped), ``"ended"`` (started and stopped,
    meter stop not below meter start) or ``"orphan"`` (a stop for a session never started
    here: connector 0, no start); drawn when ``None``. ``ids`` draws the transaction id,
    ``station_id_strategy`` the station, ``connector_numbers`` the OCPP connector id,
    ``id_tag_strategy`` the id tag (``None`` allowed), ``time_strategy`` the start and stop
    times and ``meter_strategy`` the meter start: narrow them to make start keys collide
    and list orders tie.
    """
    kind = draw(st.sampled_from(_TRANSACTION_KINDS)) if kind is None else kind
    if kind not in _TRANSACTION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(_TRANSACTION_KINDS)}, got {kind!r}")
    times = utc_datetimes() if time_strategy is None else time_strategy
    tags = _optional(id_tags()) if id_tag_strategy is None else id_tag_strategy
    station_id = draw(station_ids() if station_id_strategy is None else station_id_strategy)
    transaction_id = draw(transaction_ids() if ids is None else ids)
    if kind == "orphan":
        meter_stop = draw(_ints(0, _MAX_WH))
        stop_tag = draw(tags)
        return Transaction(
            station_id=station_id,
            transaction_id=transaction_id,
            connector_id=0,
            id_tag=stop_tag,
            started_at=None,
            meter_start=None,
            state=TransactionState.ENDED,
            stopped_at=draw(times),
            meter_stop=meter_stop,
            stop_reason=draw(_optional(_STOP_REASONS)),
            stop_id_tag=stop_tag,
            last_meter_wh=meter_stop,
            orphan=True,
        )
    meter_start = draw(_ints(0, _MAX_WH) if meter_strategy is None else meter_strategy)
    evse_id = draw(_optional(_ints(1, 4)))
    started = Transaction(
        station_id=station_id,
        transaction_id=transaction_id,
        connector_id=draw(_ints(1, 8) if connector_numbers is None else connector_numbers),
        evse_id=evse_id,
        id_tag=draw(tags),
        started_at=draw(times),
        meter_start=meter_start,
        reservation_id=draw(_optional(_ints(1, 2**31 - 1))),
        authorization=draw(_optional(st.sampled_from(AuthorizationStatus))),
        last_meter_wh=meter_start + draw(_ints(0, 100_000)),
    )
    if kind == "active":
        return started
    meter_stop = meter_start + draw(_ints(0, 200_000))
    return Transaction(
        station_id=station_id,
        transaction_id=transaction_id,
        connector_id=started.connector_id,
        evse_id=evse_id,
        id_tag=started.id_tag,
        started_at=started.started_at,
        meter_start=meter_start,
        state=TransactionState.ENDED,
        reservation_id=started.reservation_id,
        authorization=started.authorization,
        stopped_at=draw(times),
        meter_stop=meter_stop,
        stop_reason=draw(_optional(_STOP_REASONS)),
        stop_id_tag=draw(tags),
        last_meter_wh=meter_stop,
    )


@st.composite
def id_tokens(draw: st.DrawFn, /, *, ids: st.SearchStrategy[str] | None = None) -> IdToken:
    """Entries of the authorisation registry (``ids`` draws the id token, 1 to 36
    characters)."""
    return IdToken(
        id_token=draw(id_tags() if ids is None else ids),
        type=draw(_ID_TOKEN_TYPES),
        status=draw(st.sampled_from(AuthorizationStatus)),
        expiry_date=draw(_optional(utc_datetimes())),
        group_id=draw(_optional(id_tags())),
    )


@functools.cache
def meter_samples() -> st.SearchStrategy[MeterSample]:
    """Sampled values: energy registers mostly, also power, current, voltage and state of
    charge, with or without phase, context and location; finite values."""
    return st.builds(
        MeterSample,
        timestamp=utc_datetimes(),
        value=st.sampled_from([0.0, 1234.5, 12.0])
        | st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
        measurand=st.sampled_from(
            [
                "Energy.Active.Import.Register",
                "Energy.Active.Import.Register",
                "Power.Active.Import",
                "Current.Import",
                "Voltage",
                "SoC",
            ]
        ),
        unit=_optional(st.sampled_from(["Wh", "kWh", "W", "A", "V", "Percent"])),
        phase=_optional(st.sampled_from(["L1", "L2", "L3", "L1-N"])),
        context=_optional(st.sampled_from(["Sample.Periodic", "Transaction.Begin"])),
        location=_optional(st.sampled_from(["Outlet", "Inlet", "EV"])),
    )


@st.composite
def notifications(
    draw: st.DrawFn,
    /,
    *,
    station_id_strategy: st.SearchStrategy[str] | None = None,
    time_strategy: st.SearchStrategy[datetime] | None = None,
) -> StationNotification:
    """Station-initiated messages kept for operators; the payload is JSON text."""
    return StationNotification(
        station_id=draw(station_ids() if station_id_strategy is None else station_id_strategy),
        action=draw(_NOTIFICATION_ACTIONS),
        received_at=draw(utc_datetimes() if time_strategy is None else time_strategy),
        payload=draw(_payloads()),
    )


# --- OCPP 2.0.1: transaction events and device models ----------------------------------------

_EVENT_TYPES: Final = st.sampled_from(["Started", "Updated", "Ended"])
_TRIGGER_REASONS: Final = st.sampled_from(
    ["Authorized", "CablePluggedIn", "ChargingStateChanged", "MeterValuePeriodic", "StopAuthorized"]
)


@st.composite
def transaction_event_records(
    draw: st.DrawFn,
    /,
    *,
    station_id_strategy: st.SearchStrategy[str] | None = None,
    transaction_id_strategy: st.SearchStrategy[str] | None = None,
    seq_nos: st.SearchStrategy[int] | None = None,
) -> TransactionEventRecord:
    """OCPP 2.0.1 TransactionEvents as kept; narrow the strategies to make keys collide."""
    return TransactionEventRecord(
        station_id=draw(station_ids() if station_id_strategy is None else station_id_strategy),
        transaction_id=draw(
            transaction_ids() if transaction_id_strategy is None else transaction_id_strategy
        ),
        seq_no=draw(_ints(0, 2**31 - 1) if seq_nos is None else seq_nos),
        event_type=draw(_EVENT_TYPES),
        timestamp=draw(utc_datetimes()),
        trigger_reason=draw(_TRIGGER_REASONS),
        offline=draw(st.booleans()),
        received_at=draw(utc_datetimes()),
        payload=draw(_payloads()),
    )


_KEY_NAMES: Final = st.text(min_size=1, max_size=50)
"""Any name: the key text escapes what its syntax reserves."""


@st.composite
def variable_keys(
    draw: st.DrawFn,
    /,
    *,
    components: st.SearchStrategy[str] | None = None,
    variables: st.SearchStrategy[str] | None = None,
) -> VariableKey:
    """Keys of device model variables: standard names mostly, any name at times, with or
    without instances, EVSE, connector and attribute."""
    standard_components = st.sampled_from(
        ["OCPPCommCtrlr", "DeviceDataCtrlr", "EVSE", "Connector", "SecurityCtrlr"]
    )
    standard_variables = st.sampled_from(
        ["HeartbeatInterval", "ItemsPerMessage", "BytesPerMessage", "AvailabilityState"]
    )
    evse_id = draw(_optional(_ints(0, 4)))
    return VariableKey(
        component=draw(components or (standard_components | _KEY_NAMES)),
        variable=draw(variables or (standard_variables | _KEY_NAMES)),
        component_instance=draw(_optional(st.sampled_from(["Main", "a.b"]) | _KEY_NAMES)),
        evse_id=evse_id,
        connector_id=None if evse_id is None else draw(_optional(_ints(0, 3))),
        variable_instance=draw(_optional(st.sampled_from(["GetVariables"]) | _KEY_NAMES)),
        attribute_type=draw(st.sampled_from(ATTRIBUTE_TYPES)),
    )


@st.composite
def device_variables(
    draw: st.DrawFn, /, *, keys: st.SearchStrategy[VariableKey] | None = None
) -> DeviceVariable:
    """Variables of a device model as a station reports them."""
    finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)
    return DeviceVariable(
        key=draw(variable_keys() if keys is None else keys),
        reported_at=draw(utc_datetimes()),
        value=draw(_optional(st.text(max_size=20))),
        mutability=draw(_optional(st.sampled_from(MUTABILITIES))),
        persistent=draw(_optional(st.booleans())),
        constant=draw(_optional(st.booleans())),
        data_type=draw(_optional(st.sampled_from(["integer", "string", "boolean", "decimal"]))),
        unit=draw(_optional(st.sampled_from(["s", "W", "A"]))),
        min_limit=draw(_optional(finite)),
        max_limit=draw(_optional(finite)),
        values_list=draw(_optional(st.text(max_size=20))),
        supports_monitoring=draw(_optional(st.booleans())),
    )
