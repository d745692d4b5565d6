"""Operator commands (:class:`~evcharge_core.commands.CommandService`) sent to an ``ocpp``
package charge point over a real loopback connection."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import InternalError, NotSupportedError
from websockets.asyncio.client import connect

from evcharge_core.commands import (
    CommandService,
    ConfigurationEntry,
    ConfigurationResult,
    random_password,
)
from evcharge_core.domain.credentials import verify_password
from evcharge_core.domain.model import Charger, Connector
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType
from evcharge_core.errors import (
    CommandTimeout,
    Conflict,
    InvalidInput,
    NotFound,
    StationCallError,
    StationNotConnected,
    StationProtocolError,
)
from evcharge_core.ocpp16 import Ocpp16Commands

from .ocpp16.harness import make_station, run, running


def _charger(*, reservable: bool, evse_id: int = 1, ocpp_id: int = 1) -> Charger:
    connector = Connector(
        id=f"c{ocpp_id}",
        ocpp_id=ocpp_id,
        code=str(ocpp_id),
        name="C",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=16,
    )
    return Charger(
        id=f"ch{evse_id}",
        evse_id=evse_id,
        code=f"CH{evse_id}",
        name="Charger",
        reservable=reservable,
        connectors=(connector,),
    )


def test_configuration_read_and_write() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            commands = env.core.commands
            result = await commands.get_configuration("ST1", ["HeartbeatInterval", "Nope"])
            assert result == ConfigurationResult(
                (ConfigurationEntry("HeartbeatInterval", "300", readonly=False),), ("Nope",)
            )
            everything = await commands.get_configuration("ST1")
            assert [(k, ro) for k, _, ro in everything.entries] == [
                ("HeartbeatInterval", False),
                ("NumberOfConnectors", True),
            ]
            assert cp.requests[-1] == ("GetConfiguration", {})
            status = await commands.change_configuration("ST1", "HeartbeatInterval", "600")
            assert status == "Accepted"
            assert cp.configuration["HeartbeatInterval"] == ("600", False)
            cp.statuses["ChangeConfiguration"] = "Rejected"
            assert await commands.change_configuration("ST1", "X", "1") == "Rejected"

    run(test)


def test_authorization_key_write_stores_the_password_once_accepted() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            commands = env.core.commands
            password = "A-sixteen-chars!"
            key = password.encode().hex()
            cp.statuses["ChangeConfiguration"] = "Rejected"
            assert await commands.change_configuration("ST1", "AuthorizationKey", key) == (
                "Rejected"
            )
            assert (await env.load()).password_hash is None  # not taken: not stored
            cp.statuses["ChangeConfiguration"] = "Accepted"
            assert await commands.change_configuration("ST1", "authorizationkey", key) == (
                "Accepted"
            )
            assert verify_password(password, (await env.load()).password_hash)
            # A key that encodes no usable password is refused before anything is sent.
            sent = len(cp.requests)
            for bad in ("not hex", "00" * 16, "41" * 8, "41" * 21):
                with pytest.raises(InvalidInput):
                    await commands.change_configuration("ST1", "AuthorizationKey", bad)
            assert len(cp.requests) == sent

    run(test)


def test_rotate_password() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            assert await env.core.commands.rotate_password("ST1") == "Accepted"
            action, request = cp.requests[-1]
            assert (action, request["key"]) == ("ChangeConfiguration", "AuthorizationKey")
            password = bytes.fromhex(request["value"]).decode()
            assert 16 <= len(password) <= 40
            assert password.isalnum()
            assert verify_password(password, (await env.load()).password_hash)
            before = (await env.load()).password_hash
            cp.statuses["ChangeConfiguration"] = "Rejected"
            assert await env.core.commands.rotate_password("ST1") == "Rejected"
            assert (await env.load()).password_hash == before

    run(test)


def test_random_password_and_its_authorization_key() -> None:
    passwords = {random_password() for _ in range(50)}
    assert len(passwords) == 50
    commands = Ocpp16Commands(session=None)  # type: ignore[arg-type]
    for password in passwords:
        assert commands.password_for(commands.password_value(password)) == password


def test_trigger_reset_remote_start_stop_unlock_availability() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            commands = env.core.commands
            assert await commands.trigger_message("ST1", "Heartbeat", 1) == "Accepted"
            assert cp.requests[-1] == (
                "TriggerMessage",
                {"requested_message": "Heartbeat", "connector_id": 1},
            )
            assert await commands.trigger_message("ST1", "LogStatusNotification") == "Accepted"
            assert cp.requests[-1][0] == "ExtendedTriggerMessage"
            assert await commands.reset("ST1", "Hard") == "Accepted"
            assert cp.requests[-1] == ("Reset", {"type": "Hard"})
            assert await commands.remote_start("ST1", "TAG1", 2) == "Accepted"
            assert cp.requests[-1] == (
                "RemoteStartTransaction",
                {"id_tag": "TAG1", "connector_id": 2},
            )
            cp.statuses["RemoteStopTransaction"] = "Rejected"
            assert await commands.remote_stop("ST1", "17") == "Rejected"
            assert cp.requests[-1] == ("RemoteStopTransaction", {"transaction_id": 17})
            assert await commands.unlock("ST1", 1) == "Unlocked"
            assert await commands.change_availability("ST1", 0, "Inoperative") == "Accepted"
            assert cp.requests[-1] == (
                "ChangeAvailability",
                {"connector_id": 0, "type": "Inoperative"},
            )
            profile = {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
                },
            }
            assert await commands.set_charging_profile("ST1", 1, profile) == "Accepted"
            assert await commands.clear_charging_profile("ST1", profile_id=1) == "Accepted"
            assert cp.requests[-1] == ("ClearChargingProfile", {"id": 1})
            # Bad arguments are refused before anything is sent.
            sent = len(cp.requests)
            with pytest.raises(InvalidInput):
                await commands.reset("ST1", "Sideways")
            with pytest.raises(InvalidInput):
                await commands.remote_stop("ST1", "abc")
            with pytest.raises(InvalidInput):
                await commands.trigger_message("ST1", "Coffee")
            with pytest.raises(InvalidInput):
                await commands.change_availability("ST1", 1, "Maybe")
            assert len(cp.requests) == sent

    run(test)


def test_reservations_only_on_reservable_chargers() -> None:
    async def test() -> None:
        station = make_station(
            chargers=[_charger(reservable=False), _charger(reservable=True, evse_id=2, ocpp_id=2)]
        )
        async with running(station) as env, env.station() as cp:
            commands = env.core.commands
            expiry = datetime.now(UTC) + timedelta(minutes=15)
            with pytest.raises(Conflict):
                await commands.reserve_now("ST1", 1, "TAG1", expiry)
            with pytest.raises(Conflict):
                await commands.reserve_now("ST1", 0, "TAG1", expiry)  # any: not all reservable
            with pytest.raises(InvalidInput):
                await commands.reserve_now("ST1", 9, "TAG1", expiry)
            with pytest.raises(InvalidInput):
                await commands.reserve_now("ST1", 2, "TAG1", datetime(2030, 1, 1))
            assert cp.requests == []
            result = await commands.reserve_now("ST1", 2, "TAG1", expiry, reservation_id=5)
            assert (result.status, result.reservation_id) == ("Accepted", 5)
            action, request = cp.requests[-1]
            assert action == "ReserveNow"
            assert (request["connector_id"], request["reservation_id"]) == (2, 5)
            assert await commands.cancel_reservation("ST1", 5) == "Accepted"
            drawn = await commands.reserve_now("ST1", 2, "TAG1", expiry)
            assert 1 <= drawn.reservation_id < 2**31

    run(test)


def test_cancel_reservation_without_reservable_charger_is_refused() -> None:
    async def test() -> None:
        station = make_station(chargers=[_charger(reservable=False)])
        async with running(station) as env, env.station() as cp:
            with pytest.raises(Conflict):
                await env.core.commands.cancel_reservation("ST1", 5)
            assert cp.requests == []

    run(test)


def test_raw_call_validated_first() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            commands = env.core.commands
            assert await commands.call("ST1", "GetLocalListVersion", {}) == {"listVersion": 7}
            answer = await commands.call(
                "ST1", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
            )
            assert answer == {"status": "Accepted"}
            sent = len(cp.requests)
            for action, payload in (
                ("ChangeConfiguration", {"key": "K"}),  # value missing
                ("ChangeConfiguration", {"key": "K", "value": 1}),
                ("Reset", {"type": "Hard", "extra": True}),
                ("UnlockConnector", {"connectorId": 2**40}),
                ("BootNotification", {}),  # station-to-CSMS
                ("NoSuchAction", {}),
                ("Reset", ["Hard"]),
            ):
                with pytest.raises(InvalidInput) as error:
                    await commands.call("ST1", action, payload)  # type: ignore[arg-type]
                assert error.value.issues
            await asyncio.sleep(0.05)
            assert len(cp.requests) == sent

    run(test)


def test_call_error_from_the_station_is_returned_with_its_code() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            cp.errors["UnlockConnector"] = NotSupportedError("no lock on this one")
            with pytest.raises(StationCallError) as error:
                await env.core.commands.unlock("ST1", 1)
            assert error.value.code == "NotSupported"
            assert error.value.description == "no lock on this one"
            cp.errors["Reset"] = InternalError("boom")
            with pytest.raises(StationCallError) as error:
                await env.core.commands.reset("ST1", "Soft")
            assert error.value.code == "InternalError"

    run(test)


async def _raw_station(env: Any, answer: Any) -> None:
    async with connect(env.url(), subprotocols=["ocpp1.6"]) as ws:
        await env.session()
        task = asyncio.create_task(env.core.commands.reset("ST1", "Soft", timeout=2))
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(answer(frame[1]))
        await task


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (lambda i: json.dumps([3, i, {"status": "Maybe"}]), "PropertyConstraintViolation"),
        (lambda i: json.dumps([3, i, {"status": 1}]), "TypeConstraintViolation"),
        (lambda i: json.dumps([3, i, {}]), "OccurenceConstraintViolation"),
        (lambda i: json.dumps([3, i, "Accepted"]), "FormationViolation"),
        (lambda i: json.dumps([4, i, "NotSupported"]), "FormationViolation"),
    ],
)
def test_answers_that_break_the_protocol(answer: Any, code: str) -> None:
    async def test() -> None:
        async with running(make_station()) as env:
            with pytest.raises(StationProtocolError) as error:
                await _raw_station(env, answer)
            assert error.value.code == code
            assert isinstance(error.value, StationCallError)

    run(test)


def test_timeout_when_the_station_never_answers() -> None:
    async def test() -> None:
        async with (
            running(make_station()) as env,
            connect(env.url(), subprotocols=["ocpp1.6"]) as ws,
        ):
            await env.session()
            with pytest.raises(CommandTimeout) as error:
                await env.core.commands.reset("ST1", "Soft", timeout=0.2)
            assert isinstance(error.value, TimeoutError)
            assert error.value.action == "Reset"
            late = json.loads(await asyncio.wait_for(ws.recv(), 5))
            await ws.send(json.dumps([3, late[1], {"status": "Accepted"}]))  # ignored
            # The connection still serves the next command.
            task = asyncio.create_task(env.core.commands.reset("ST1", "Hard", timeout=5))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            await ws.send(json.dumps([3, frame[1], {"status": "Rejected"}]))
            assert await task == "Rejected"

    run(test)


def test_not_connected_unknown_and_disconnect() -> None:
    async def test() -> None:
        async with running(make_station(), make_station("ST2")) as env:
            commands = env.core.commands
            with pytest.raises(StationNotConnected):
                await commands.reset("ST2", "Soft")
            with pytest.raises(NotFound):
                await commands.reset("NOPE", "Soft")
            with pytest.raises(StationNotConnected):
                await commands.disconnect("ST2")
            async with env.station() as cp:
                assert cp is not None
                await commands.disconnect("ST1")
                for _ in range(200):
                    if env.core.gateway.session("ST1") is None:
                        break
                    await asyncio.sleep(0.01)
                with pytest.raises(StationNotConnected):
                    await commands.get_configuration("ST1")

    run(test)


def test_commands_need_a_session_with_command_support() -> None:
    class Plain:
        pass

    class Sessions:
        def session(self, station_id: str) -> object | None:
            return Plain()

        async def disconnect(self, station_id: str) -> bool:
            return False

    with pytest.raises(Conflict, match="not implemented"):
        asyncio.run(CommandService(Sessions()).reset("ST1", "Soft"))
    with pytest.raises(RuntimeError, match="stations"):
        asyncio.run(CommandService(Sessions()).reserve_now("ST1", 1, "T", datetime.now(UTC)))
