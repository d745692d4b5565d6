"""Operator commands in OCPP 2.0.1: :class:`Ocpp201Commands`, the
:class:`~evcharge_core.commands.StationCommands` of an OCPP 2.0.1 connection.

=============================  =============================================================
command                        OCPP 2.0.1 call
=============================  =============================================================
get_configuration              GetVariables, split by the station's limits; with no keys,
                               GetBaseReport(ConfigurationInventory) and its NotifyReports
change_configuration           SetVariables (one item)
get_base_report                GetBaseReport (the NotifyReports fill the device model)
trigger_message                TriggerMessage
reset                          Reset (``Hard``: ``Immediate``, ``Soft``: ``OnIdle``)
remote_start / remote_stop     RequestStartTransaction / RequestStopTransaction
unlock                         UnlockConnector
change_availability            ChangeAvailability
reserve_now                    ReserveNow
cancel_reservation             CancelReservation
set_charging_profile           SetChargingProfile
clear_charging_profile         ClearChargingProfile
call                           any CSMS-to-station action
=============================  =============================================================

**Keys** are written ``Component.Variable`` (the full form, with instances, EVSE, connector
and attribute, is in :mod:`evcharge_core.domain.device_model`); results come back with
their keys in canonical form.

**Connectors.** The library's ``connector_id`` numbers connectors as OCPP 1.6 does, and
OCPP 2.0.1 turned 1.6's connector into its EVSE: so without ``evse_id``, ``connector_id``
is the EVSE ID (0: the station as a whole), and a command that must name a connector
(UnlockConnector) takes the EVSE's only connector. With ``evse_id``, ``connector_id`` is
the connector within that EVSE (0 or ``None``: the EVSE as a whole).

**Id tokens** sent to the station (remote start, reservations) carry the type the id token
registry has for them when it is one OCPP 2.0.1 knows, else ``Central`` (an id made by the
CSMS).

**The password key** is ``SecurityCtrlr.BasicAuthPassword``: the password itself, 16 to
40 printable ASCII characters.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol

import attrs

from ..charging import connector_of_evse
from ..commands import (
    ConfigurationEntry,
    ConfigurationResult,
    ReportResult,
)
from ..domain.credentials import parse_password
from ..domain.device_model import DeviceVariable, VariableKey, find_variable, format_key, parse_key
from ..domain.model import Station
from ..errors import CommandTimeout, Conflict, InvalidInput, Issue, StationCallError
from . import _variables as v
from ._messages import ocpp_time

__all__ = ["ID_TOKEN_TYPES", "PASSWORD_KEY", "RESET_TYPES", "Ocpp201Commands"]

logger = logging.getLogger(__name__)

PASSWORD_KEY: Final = "SecurityCtrlr.BasicAuthPassword"  # noqa: S105 - a variable's name
_PASSWORD: Final = parse_key(PASSWORD_KEY)

RESET_TYPES: Final = {
    "Hard": "Immediate",
    "Soft": "OnIdle",
    "Immediate": "Immediate",
    "OnIdle": "OnIdle",
}
"""The reset types a command may name, to OCPP 2.0.1's: 1.6's ``Hard`` (at once, whatever
runs) is ``Immediate``; ``Soft`` (gracefully) is ``OnIdle`` (once no transaction runs)."""

ID_TOKEN_TYPES: Final = frozenset(
    {
        "Central",
        "eMAID",
        "ISO14443",
        "ISO15693",
        "KeyCode",
        "Local",
        "MacAddress",
        "NoAuthorization",
    }
)
"""OCPP 2.0.1 ``IdTokenEnumType``."""

_PURPOSES: Final = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}
"""OCPP 1.6 charging profile purposes OCPP 2.0.1 renamed."""


class _Session(Protocol):
    """What the commands need of an :class:`~.session.Ocpp201Session`."""

    @property
    def station_id(self) -> str: ...

    async def call(
        self, action: str, payload: Mapping[str, Any], timeout: float | None = None
    ) -> dict[str, Any]: ...

    def new_request_id(self) -> int: ...

    def expect_report(self, request_id: int) -> asyncio.Future[list[dict[str, Any]]]: ...

    def forget_report(self, request_id: int) -> None: ...

    async def message_limits(self, action: str, timeout: float | None) -> v.MessageLimits: ...

    async def stored_station(self) -> Station | None: ...

    async def stored_device_model(self) -> list[DeviceVariable]: ...

    async def store_variables(self, variables: Sequence[DeviceVariable]) -> None: ...

    async def id_token_type(self, id_token: str) -> str | None: ...

    @property
    def default_timeout(self) -> float: ...


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([Issue(message, field=field)])


def _keys(texts: Sequence[str], field: str = "key") -> list[VariableKey]:
    keys: list[VariableKey] = []
    issues: list[Issue] = []
    for text in texts:
        try:
            keys.append(parse_key(text))
        except ValueError as error:
            issues.append(Issue(f"{text[:80]!r}: {error}", field=field))
    if issues:
        raise InvalidInput(issues)
    return keys


def _evse(evse_id: int | None, connector_id: int | None) -> dict[str, Any] | None:
    """An ``EVSEType`` for (``evse_id``, ``connector_id``) in the library's numbering (see
    the module docstring); ``None`` for the station as a whole."""
    if evse_id is None:
        return {"id": connector_id} if connector_id else None
    evse: dict[str, Any] = {"id": evse_id}
    if connector_id:
        evse["connectorId"] = connector_id
    return evse


def _evse_id(evse_id: int | None, connector_id: int | None) -> int | None:
    """The EVSE a command is about (``None``: the station as a whole)."""
    chosen = evse_id if evse_id is not None else connector_id
    return chosen or None


class Ocpp201Commands:
    """Operator commands over one OCPP 2.0.1 session (see the module docstring). Each
    returns the ``status`` of the station's answer unless said otherwise."""

    password_key: Final = PASSWORD_KEY

    def __init__(self, session: _Session) -> None:
        self._session = session

    async def _status(self, action: str, payload: Mapping[str, Any], timeout: float | None) -> str:
        answer = await self._session.call(action, payload, timeout)
        return str(answer["status"])

    # --- passwords -----------------------------------------------------------------------

    def is_password_key(self, key: str) -> bool:
        try:
            return parse_key(key).same_variable(_PASSWORD)
        except ValueError:
            return False

    def password_for(self, value: str) -> str:
        """BasicAuthPassword is the password itself."""
        try:
            return parse_password(value)
        except ValueError as error:
            raise _invalid("value", f"BasicAuthPassword: {error}") from None

    def password_value(self, password: str) -> str:
        return parse_password(password)

    # --- configuration -------------------------------------------------------------------

    async def get_configuration(
        self, keys: Sequence[str] = (), *, timeout: float | None = None
    ) -> ConfigurationResult:
        """GetVariables of ``keys`` (Actual unless the key names an attribute), split by
        the station's limits; with no keys, every variable of its configuration
        inventory. ``readonly`` comes from the stored device model (``None``: unknown)."""
        if not keys:
            return await self._inventory(timeout)
        wanted = _keys(keys)
        limit = self._session.default_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                results = await self._get_variables(wanted, limit)
        except TimeoutError:
            raise CommandTimeout(self._session.station_id, "GetVariables", limit) from None
        model = await self._session.stored_device_model()
        entries: list[ConfigurationEntry] = []
        unknown: list[str] = []
        rejected: list[tuple[str, str]] = []
        for key, result in results:
            status = result["attributeStatus"]
            text = format_key(key)
            if status == "Accepted":
                known = find_variable(model, key)
                readonly = known.readonly if known is not None else None
                entries.append(ConfigurationEntry(text, result.get("attributeValue"), readonly))
            elif status in ("UnknownComponent", "UnknownVariable"):
                unknown.append(text)
            else:
                rejected.append((text, status))
        return ConfigurationResult(tuple(entries), tuple(unknown), tuple(rejected))

    async def _get_variables(
        self, keys: Sequence[VariableKey], timeout: float | None
    ) -> list[tuple[VariableKey, Mapping[str, Any]]]:
        limits = await self._session.message_limits("GetVariables", timeout)
        items = [v.get_item(key) for key in keys]
        try:
            chunks = v.split("GetVariables", items, limits)
        except ValueError as error:
            raise _invalid("key", str(error)) from None
        found: list[tuple[VariableKey, Mapping[str, Any]]] = []
        for chunk in chunks:
            answer = await self._session.call("GetVariables", {"getVariableData": chunk}, timeout)
            found.extend(
                (self._result_key(result, "GetVariables"), result)
                for result in answer["getVariableResult"]
            )
        return found

    def _result_key(self, result: Mapping[str, Any], action: str) -> VariableKey:
        try:
            return v.key_of_result(result)
        except (ValueError, TypeError) as error:
            raise StationCallError(
                self._session.station_id,
                action,
                "PropertyConstraintViolation",
                f"a result names no variable: {error}",
            ) from None

    async def _inventory(self, timeout: float | None) -> ConfigurationResult:
        limit = self._session.default_timeout if timeout is None else timeout
        request_id = self._session.new_request_id()
        report = self._session.expect_report(request_id)
        try:
            async with asyncio.timeout(limit):
                payload = {"requestId": request_id, "reportBase": "ConfigurationInventory"}
                status = await self._status("GetBaseReport", payload, limit)
                if status == "EmptyResultSet":
                    return ConfigurationResult(())
                if status != "Accepted":
                    raise Conflict(
                        f"station {self._session.station_id} answered GetBaseReport "
                        f"{status}: it cannot list its configuration; name the keys to read"
                    )
                data = await report
        except TimeoutError:
            raise CommandTimeout(self._session.station_id, "GetBaseReport", limit) from None
        finally:
            self._session.forget_report(request_id)
        entries: list[ConfigurationEntry] = []
        for item in data:
            for attribute in item.get("variableAttribute", ()):
                try:
                    key = v.key_of_result({**item, "attributeType": attribute.get("type")})
                except (ValueError, TypeError):
                    continue  # the handler refused it already
                mutability = attribute.get("mutability", "ReadWrite")
                entries.append(
                    ConfigurationEntry(
                        format_key(key), attribute.get("value"), mutability == "ReadOnly"
                    )
                )
        return ConfigurationResult(tuple(entries))

    async def change_configuration(
        self, key: str, value: str, *, timeout: float | None = None
    ) -> str:
        """SetVariables of one key; an accepted write of an ``Actual`` value (the password
        excepted) also updates the stored device model."""
        [parsed] = _keys([key])
        statuses = await self.set_variables([(parsed, value)], timeout=timeout)
        return statuses[0]

    async def set_variables(
        self, values: Sequence[tuple[VariableKey, str]], *, timeout: float | None = None
    ) -> list[str]:
        """SetVariables of several keys, split by the station's limits; the status of each,
        in order."""
        for key, value in values:
            if len(value) > 1000:
                raise _invalid("value", f"{format_key(key)}: at most 1000 characters")
        limit = self._session.default_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                statuses = await self._set_variables(values, limit)
        except TimeoutError:
            raise CommandTimeout(self._session.station_id, "SetVariables", limit) from None
        await self._remember(values, statuses)
        return statuses

    async def _set_variables(
        self, values: Sequence[tuple[VariableKey, str]], timeout: float | None
    ) -> list[str]:
        limits = await self._session.message_limits("SetVariables", timeout)
        items = [v.set_item(key, value) for key, value in values]
        try:
            chunks = v.split("SetVariables", items, limits)
        except ValueError as error:
            raise _invalid("value", str(error)) from None
        results: list[tuple[VariableKey, str]] = []
        for chunk in chunks:
            answer = await self._session.call("SetVariables", {"setVariableData": chunk}, timeout)
            results.extend(
                (self._result_key(result, "SetVariables"), result["attributeStatus"])
                for result in answer["setVariableResult"]
            )
        statuses: list[str] = []
        for key, _ in values:
            status = next((s for k, s in results if k.matches(key)), None)
            if status is None:
                raise StationCallError(
                    self._session.station_id,
                    "SetVariables",
                    "OccurrenceConstraintViolation",
                    f"no result for {format_key(key)}",
                )
            statuses.append(status)
        return statuses

    async def _remember(
        self, values: Sequence[tuple[VariableKey, str]], statuses: list[str]
    ) -> None:
        accepted = [
            (key, value)
            for (key, value), status in zip(values, statuses, strict=True)
            if status == "Accepted" and key.is_actual and not key.same_variable(_PASSWORD)
        ]
        if not accepted:
            return
        model = await self._session.stored_device_model()
        changed: list[DeviceVariable] = []
        for key, value in accepted:
            known = find_variable(model, key)
            if known is not None:
                changed.append(attrs.evolve(known, value=value))
        if changed:
            await self._session.store_variables(changed)

    async def get_base_report(
        self, report_base: str = "FullInventory", *, timeout: float | None = None
    ) -> ReportResult:
        """Ask for a base report (``ConfigurationInventory``, ``FullInventory`` or
        ``SummaryInventory``); its NotifyReports fill the stored device model."""
        request_id = self._session.new_request_id()
        payload = {"requestId": request_id, "reportBase": report_base}
        return ReportResult(await self._status("GetBaseReport", payload, timeout), request_id)

    # --- other commands ------------------------------------------------------------------

    async def trigger_message(
        self,
        message: str,
        connector_id: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        payload: dict[str, Any] = {"requestedMessage": message}
        evse = _evse(evse_id, connector_id)
        if evse is not None:
            payload["evse"] = evse
        return await self._status("TriggerMessage", payload, timeout)

    async def reset(
        self,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        if type not in RESET_TYPES:
            raise _invalid("type", f"expected one of {', '.join(RESET_TYPES)}, got {type!r}")
        payload: dict[str, Any] = {"type": RESET_TYPES[type]}
        if evse_id:
            payload["evseId"] = evse_id
        return await self._status("Reset", payload, timeout)

    async def _id_token(self, id_token: str) -> dict[str, Any]:
        kind = await self._session.id_token_type(id_token)
        return {"idToken": id_token, "type": kind if kind in ID_TOKEN_TYPES else "Central"}

    async def remote_start(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: Mapping[str, Any] | None = None,
        *,
        evse_id: int | None = None,
        remote_start_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        payload: dict[str, Any] = {
            "idToken": await self._id_token(id_tag),
            "remoteStartId": (
                remote_start_id if remote_start_id is not None else secrets.randbelow(2**31 - 1) + 1
            ),
        }
        chosen = _evse_id(evse_id, connector_id)
        if chosen is not None:
            payload["evseId"] = chosen
        if charging_profile is not None:
            payload["chargingProfile"] = dict(charging_profile)
        return await self._status("RequestStartTransaction", payload, timeout)

    async def remote_stop(self, transaction_id: str, *, timeout: float | None = None) -> str:
        if not 1 <= len(transaction_id) <= 36:
            raise _invalid("transaction_id", "an OCPP 2.0.1 transaction id is 1 to 36 characters")
        return await self._status(
            "RequestStopTransaction", {"transactionId": transaction_id}, timeout
        )

    async def unlock(
        self, connector_id: int, *, evse_id: int | None = None, timeout: float | None = None
    ) -> str:
        if evse_id is None:
            evse_id, connector = connector_id, await self._only_connector(connector_id)
        else:
            connector = connector_id
        payload = {"evseId": evse_id, "connectorId": connector}
        return await self._status("UnlockConnector", payload, timeout)

    async def _only_connector(self, evse_id: int) -> int:
        station = await self._session.stored_station()
        found = 1 if station is None else connector_of_evse(station, evse_id, None)
        if found is None:
            raise _invalid(
                "connector_id",
                f"EVSE {evse_id} has several connectors: give evse_id and the connector_id "
                "within it",
            )
        return found

    async def change_availability(
        self,
        connector_id: int,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        payload: dict[str, Any] = {"operationalStatus": type}
        evse = _evse(evse_id, connector_id)
        if evse is not None:
            payload["evse"] = evse
        return await self._status("ChangeAvailability", payload, timeout)

    async def reserve_now(
        self,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        reservation_id: int,
        parent_id_tag: str | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        payload: dict[str, Any] = {
            "id": reservation_id,
            "expiryDateTime": ocpp_time(expiry_date),
            "idToken": await self._id_token(id_tag),
        }
        chosen = _evse_id(evse_id, connector_id)
        if chosen is not None:
            payload["evseId"] = chosen
        if parent_id_tag is not None:
            payload["groupIdToken"] = {"idToken": parent_id_tag, "type": "Central"}
        return await self._status("ReserveNow", payload, timeout)

    async def cancel_reservation(self, reservation_id: int, *, timeout: float | None = None) -> str:
        return await self._status("CancelReservation", {"reservationId": reservation_id}, timeout)

    async def set_charging_profile(
        self,
        connector_id: int,
        profile: Mapping[str, Any],
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        chosen = _evse_id(evse_id, connector_id) or 0
        payload = {"evseId": chosen, "chargingProfile": dict(profile)}
        return await self._status("SetChargingProfile", payload, timeout)

    async def clear_charging_profile(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        criteria: dict[str, Any] = {}
        chosen = evse_id if evse_id is not None else connector_id
        if chosen is not None:
            criteria["evseId"] = chosen
        if purpose is not None:
            criteria["chargingProfilePurpose"] = _PURPOSES.get(purpose, purpose)
        if stack_level is not None:
            criteria["stackLevel"] = stack_level
        payload: dict[str, Any] = {}
        if profile_id is not None:
            payload["chargingProfileId"] = profile_id
        if criteria:
            payload["chargingProfileCriteria"] = criteria
        return await self._status("ClearChargingProfile", payload, timeout)

    async def call(
        self, action: str, payload: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        return await self._session.call(action, payload, timeout)
