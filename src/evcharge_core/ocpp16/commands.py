"""Operator commands in OCPP 1.6: :class:`Ocpp16Commands`, the
:class:`~evcharge_core.commands.StationCommands` of an OCPP 1.6 connection.

=============================  =========================================================
command                        OCPP 1.6 call
=============================  =========================================================
get_configuration              GetConfiguration
change_configuration           ChangeConfiguration
trigger_message                TriggerMessage; ExtendedTriggerMessage (security extension)
                               for ``LogStatusNotification`` and
                               ``SignChargePointCertificate``
reset                          Reset
remote_start / remote_stop     RemoteStartTransaction / RemoteStopTransaction
unlock                         UnlockConnector
change_availability            ChangeAvailability
reserve_now                    ReserveNow
cancel_reservation             CancelReservation
set_charging_profile           SetChargingProfile
clear_charging_profile         ClearChargingProfile
call                           any CSMS-to-station action
=============================  =========================================================

``evse_id`` is an OCPP 2.0.1 notion: given to an OCPP 1.6 command, it is refused
(:class:`~evcharge_core.errors.InvalidInput`); OCPP 1.6 numbers connectors across the
station. ``get_base_report`` (2.0.1 GetBaseReport) is a
:class:`~evcharge_core.errors.Conflict`: read the configuration with GetConfiguration.

**The password key** is ``AuthorizationKey``. The OCPP 1.6 security whitepaper writes it
as the hexadecimal form of the password's bytes (16 to 20 bytes, so 32 to 40 hex digits):
the station decodes it and presents the bytes as its HTTP Basic password. This CSMS stores
passwords as text, so an ``AuthorizationKey`` must decode to a password of printable ASCII
(:func:`~evcharge_core.domain.credentials.parse_password`); generated passwords are 20 letters
and digits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol

from ..commands import ConfigurationEntry, ConfigurationResult, ReportResult
from ..domain.credentials import parse_password
from ..errors import Conflict, InvalidInput, Issue
from ._messages import ocpp_time

__all__ = ["EXTENDED_TRIGGER_MESSAGES", "PASSWORD_KEY", "Ocpp16Commands"]

PASSWORD_KEY: Final = "AuthorizationKey"  # noqa: S105 - a configuration key's name

_TRIGGER_MESSAGES: Final = frozenset(
    {
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    }
)
EXTENDED_TRIGGER_MESSAGES: Final = frozenset(
    {"LogStatusNotification", "SignChargePointCertificate"}
)
"""Messages only ExtendedTriggerMessage (security extension) can ask for."""

_MAX_KEY_BYTES: Final = 20

_PURPOSES: Final = {"ChargingStationMaxProfile": "ChargePointMaxProfile"}
"""OCPP 2.0.1 charging profile purposes under their 1.6 names."""


class _Caller(Protocol):
    async def call(
        self, action: str, payload: Mapping[str, Any], timeout: float | None = None
    ) -> dict[str, Any]: ...


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([Issue(message, field=field)])


def _no_evse(evse_id: int | None) -> None:
    if evse_id is not None:
        raise _invalid(
            "evse_id",
            "OCPP 1.6 numbers connectors across the station: give connector_id alone",
        )


class Ocpp16Commands:
    """Operator commands over one OCPP 1.6 session's :meth:`call` (see the module
    docstring). Each returns the ``status`` of the station's answer unless said otherwise."""

    password_key: Final = PASSWORD_KEY

    def __init__(self, session: _Caller) -> None:
        self._session = session

    async def _status(self, action: str, payload: Mapping[str, Any], timeout: float | None) -> str:
        answer = await self._session.call(action, payload, timeout)
        return str(answer["status"])

    # --- passwords -----------------------------------------------------------------------

    def is_password_key(self, key: str) -> bool:
        """OCPP 1.6 keys are case-insensitive names."""
        return key.casefold() == PASSWORD_KEY.casefold()

    def password_for(self, value: str) -> str:
        """The password a station presents after accepting ``value`` as its
        AuthorizationKey: the text its hexadecimal digits encode."""
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise _invalid("value", "AuthorizationKey must be hexadecimal digits") from None
        if not 16 <= len(raw) <= _MAX_KEY_BYTES:
            raise _invalid("value", "AuthorizationKey must encode 16 to 20 bytes")
        try:
            return parse_password(raw.decode("ascii"))
        except ValueError as error:  # UnicodeDecodeError included
            raise _invalid(
                "value", f"AuthorizationKey must encode a printable ASCII password: {error}"
            ) from None

    def password_value(self, password: str) -> str:
        """The AuthorizationKey for ``password`` (printable ASCII, 16 to 20 characters)."""
        raw = parse_password(password).encode("ascii")
        if len(raw) > _MAX_KEY_BYTES:
            raise ValueError("an OCPP 1.6 AuthorizationKey holds at most 20 bytes")
        return raw.hex()

    # --- commands ------------------------------------------------------------------------

    async def get_configuration(
        self, keys: Sequence[str] = (), *, timeout: float | None = None
    ) -> ConfigurationResult:
        payload: dict[str, Any] = {"key": list(keys)} if keys else {}
        answer = await self._session.call("GetConfiguration", payload, timeout)
        entries = tuple(
            ConfigurationEntry(item["key"], item.get("value"), item["readonly"])
            for item in answer.get("configurationKey", ())
        )
        return ConfigurationResult(entries, tuple(answer.get("unknownKey", ())))

    async def change_configuration(
        self, key: str, value: str, *, timeout: float | None = None
    ) -> str:
        return await self._status("ChangeConfiguration", {"key": key, "value": value}, timeout)

    async def get_base_report(
        self, report_base: str = "FullInventory", *, timeout: float | None = None
    ) -> ReportResult:
        raise Conflict(
            "GetBaseReport is OCPP 2.0.1; read an OCPP 1.6 station's configuration with "
            "GetConfiguration"
        )

    async def trigger_message(
        self,
        message: str,
        connector_id: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        _no_evse(evse_id)
        payload: dict[str, Any] = {"requestedMessage": message}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        if message in EXTENDED_TRIGGER_MESSAGES:
            return await self._status("ExtendedTriggerMessage", payload, timeout)
        return await self._status("TriggerMessage", payload, timeout)

    async def reset(
        self,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        _no_evse(evse_id)
        return await self._status("Reset", {"type": type}, timeout)

    async def remote_start(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: Mapping[str, Any] | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        _no_evse(evse_id)
        payload: dict[str, Any] = {"idTag": id_tag}
        if connector_id is not None:
            payload["connectorId"] = connector_id
        if charging_profile is not None:
            payload["chargingProfile"] = dict(charging_profile)
        return await self._status("RemoteStartTransaction", payload, timeout)

    async def remote_stop(self, transaction_id: str, *, timeout: float | None = None) -> str:
        try:
            number = int(transaction_id)
        except ValueError:
            raise _invalid("transaction_id", "an OCPP 1.6 transaction id is an integer") from None
        return await self._status("RemoteStopTransaction", {"transactionId": number}, timeout)

    async def unlock(
        self, connector_id: int, *, evse_id: int | None = None, timeout: float | None = None
    ) -> str:
        _no_evse(evse_id)
        return await self._status("UnlockConnector", {"connectorId": connector_id}, timeout)

    async def change_availability(
        self,
        connector_id: int,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        _no_evse(evse_id)
        payload = {"connectorId": connector_id, "type": type}
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
        _no_evse(evse_id)
        payload: dict[str, Any] = {
            "connectorId": connector_id,
            "expiryDate": ocpp_time(expiry_date),
            "idTag": id_tag,
            "reservationId": reservation_id,
        }
        if parent_id_tag is not None:
            payload["parentIdTag"] = parent_id_tag
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
        _no_evse(evse_id)
        payload = {"connectorId": connector_id, "csChargingProfiles": dict(profile)}
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
        _no_evse(evse_id)
        given = {
            "id": profile_id,
            "connectorId": connector_id,
            "chargingProfilePurpose": _PURPOSES.get(purpose, purpose) if purpose else None,
            "stackLevel": stack_level,
        }
        payload = {k: v for k, v in given.items() if v is not None}
        return await self._status("ClearChargingProfile", payload, timeout)

    async def call(
        self, action: str, payload: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        return await self._session.call(action, payload, timeout)
