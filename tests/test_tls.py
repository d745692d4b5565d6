"""TLS on the OCPP endpoint: security profiles 2 (Basic auth over TLS) and 3 (client
certificate whose CN is the station ID), through the real server process, for stations
speaking OCPP 1.6 and OCPP 2.0.1 alike."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from evcharge_core.bootstrap import open_repository
from evcharge_core.domain.credentials import hash_password
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol
from evcharge_core.tls import TLSConfigError, server_context

PASSWORD = "s3cret-password-16"
ENDPOINT = "OCPP websocket endpoint: "


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and client certificates for ST3 and ST9."""
    d = tmp_path_factory.mktemp("pki")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test CA",
        cwd=d,
    )
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn, ext in (
        ("server", "127.0.0.1", True),
        ("st3", "ST3", False),
        ("st9", "ST9", False),
    ):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={cn}",
            cwd=d,
        )
        extra = ["-extfile", "san.cnf"] if ext else []
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            *extra,
            cwd=d,
        )
    return d


def test_context_is_tls12_or_newer_and_asks_for_client_certificates(pki: Path) -> None:
    plain = server_context([(pki / "server.pem", pki / "server.key")])
    assert plain.minimum_version is ssl.TLSVersion.TLSv1_2
    assert plain.verify_mode is ssl.CERT_NONE
    mutual = server_context([(pki / "server.pem", pki / "server.key")], pki / "ca.pem")
    assert mutual.verify_mode is ssl.CERT_OPTIONAL


def test_unusable_files_are_named(pki: Path) -> None:
    with pytest.raises(TLSConfigError, match=r"st3\.key"):
        server_context([(pki / "server.pem", pki / "st3.key")])
    with pytest.raises(TLSConfigError, match=r"nope\.pem"):
        server_context([(pki / "server.pem", pki / "server.key")], pki / "nope.pem")
    with pytest.raises(TLSConfigError):
        server_context([])


async def _create_stations(db: Path, protocol: Protocol = Protocol.OCPP16) -> None:
    repository = await open_repository(str(db))
    try:
        async with repository.transaction() as tx:
            for station_id, profile in (("ST2", 2), ("ST3", 3)):
                await tx.stations.save(
                    Station(
                        id=station_id,
                        name=station_id,
                        code=station_id,
                        protocol=protocol,
                        security_profile=profile,
                        password_hash=hash_password(PASSWORD, b"0123456789abcdef"),
                    )
                )
    finally:
        await repository.close()


@asynccontextmanager
async def server(pki: Path, db: Path) -> AsyncIterator[str]:
    env = {k: v for k, v in os.environ.items() if k != "EVCHARGE_DB"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "evcharge_core.serve",
        "--db",
        str(db),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--admin-port",
        "0",
        "--admin-token",
        "t",
        "--tls-cert",
        str(pki / "server.pem"),
        "--tls-key",
        str(pki / "server.key"),
        "--tls-client-ca",
        str(pki / "ca.pem"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        assert line.startswith(ENDPOINT), line
        template = line.removeprefix(ENDPOINT).strip()
        assert template.startswith("wss://127.0.0.1:")
        yield template
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0


def client_context(pki: Path, cert: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki / "ca.pem")
    if cert is not None:
        context.load_cert_chain(pki / f"{cert}.pem", pki / f"{cert}.key")
    return context


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


BOOTS = {
    Protocol.OCPP16: {"chargePointVendor": "V", "chargePointModel": "M"},
    Protocol.OCPP201: {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
}


async def _status_of(url: str, protocol: Protocol = Protocol.OCPP16, **kwargs: object) -> int:
    """101 once a BootNotification over the connection was Accepted, else the HTTP status
    the handshake was refused with."""
    try:
        async with connect(url, subprotocols=[protocol.value], **kwargs) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps([2, "1", "BootNotification", BOOTS[protocol]]))
            answer = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            assert answer[0] == 3
            assert answer[2]["status"] == "Accepted"
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


@pytest.mark.parametrize("protocol", list(Protocol))
def test_profiles_2_and_3_over_tls(pki: Path, tmp_path: Path, protocol: Protocol) -> None:
    db = tmp_path / "tls.db"
    asyncio.run(_create_stations(db, protocol))

    async def scenario() -> None:
        async with server(pki, db) as template:
            st2, st3 = template.format(station_id="ST2"), template.format(station_id="ST3")
            tls = client_context(pki)
            # Profile 2: Basic auth over TLS; no client certificate needed.
            right, wrong = basic("ST2", PASSWORD), basic("ST2", "wrong-password-xx")
            assert await _status_of(st2, protocol, ssl=tls, additional_headers=right) == 101
            assert await _status_of(st2, protocol, ssl=tls, additional_headers=wrong) == 401
            # Profile 3: a client certificate whose CN is the station ID.
            assert await _status_of(st3, protocol, ssl=client_context(pki, "st3")) == 101
            assert await _status_of(st3, protocol, ssl=tls) == 403
            assert await _status_of(st3, protocol, ssl=client_context(pki, "st9")) == 403

    asyncio.run(scenario())


def test_tls_flags_must_come_in_pairs(pki: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "evcharge_core.serve",
            "--db",
            str(tmp_path / "x.db"),
            "--tls-cert",
            str(pki / "server.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: give --tls-cert and --tls-key")
