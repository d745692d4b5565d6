"""The websocket handshake decision: station, security profile, subprotocol."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.credentials import hash_password, verify_password
from evcharge_core.domain.handshake import (
    Accept,
    Refuse,
    decide_handshake,
    required_profile,
    select_subprotocol,
)
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol
from evcharge_core.testing.strategies import stations

SALT = b"0123456789abcdef"
PASSWORD = "correct-horse-battery"
HASH = hash_password(PASSWORD, SALT)


def station(
    *,
    protocol: Protocol | None = Protocol.OCPP16,
    profile: int = 0,
    password: bool = False,
    closed: bool = False,
) -> Station:
    return Station(
        id="ST1",
        name="Depot",
        code="ST1",
        protocol=protocol,
        security_profile=profile,
        password_hash=HASH if password else None,
        closed=closed,
    )


OK_AUTH = ("ST1", PASSWORD)


# --- station ---------------------------------------------------------------------------------


def test_unknown_station_is_404() -> None:
    assert decide_handshake(None, ["ocpp1.6"], None, tls=False) == Refuse(404, "unknown station")


def test_closed_station_is_404_even_with_good_credentials() -> None:
    closed = station(closed=True, profile=1, password=True)
    decision = decide_handshake(closed, ["ocpp1.6"], OK_AUTH, tls=True)
    assert isinstance(decision, Refuse)
    assert decision.status == 404


def test_inactive_or_pending_station_may_connect() -> None:
    from evcharge_core.domain.model import Activation
    from evcharge_core.domain.values import ActivationState, RegistrationStatus

    pending = attrs.evolve(
        station(),
        activation=Activation(ActivationState.INACTIVE),
        registration_status=RegistrationStatus.PENDING,
    )
    assert decide_handshake(pending, ["ocpp1.6"], None, tls=False) == Accept(
        Protocol.OCPP16, "ocpp1.6"
    )


# --- subprotocol -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "offered", "expected"),
    [
        (Protocol.OCPP16, ["ocpp1.6"], (Protocol.OCPP16, "ocpp1.6")),
        (Protocol.OCPP16, ["ocpp2.0.1", "ocpp1.6"], (Protocol.OCPP16, "ocpp1.6")),
        (Protocol.OCPP16, ["OCPP1.6"], (Protocol.OCPP16, "OCPP1.6")),
        (Protocol.OCPP201, ["ocpp1.6", "ocpp2.0.1"], (Protocol.OCPP201, "ocpp2.0.1")),
        (Protocol.OCPP201, ["Ocpp2.0.1"], (Protocol.OCPP201, "Ocpp2.0.1")),
        (None, ["ocpp1.6", "ocpp2.0.1"], (Protocol.OCPP201, "ocpp2.0.1")),
        (None, ["ocpp2.0.1", "ocpp1.6"], (Protocol.OCPP201, "ocpp2.0.1")),
        (None, ["chat", "ocpp1.6"], (Protocol.OCPP16, "ocpp1.6")),
        (None, ["ocpp2.0", "ocpp1.6"], (Protocol.OCPP16, "ocpp1.6")),
        (None, ["ocpp1.6", "OCPP1.6"], (Protocol.OCPP16, "ocpp1.6")),
    ],
)
def test_subprotocol_selection(
    configured: Protocol | None, offered: list[str], expected: tuple[Protocol, str]
) -> None:
    assert select_subprotocol(configured, offered) == expected
    decision = decide_handshake(station(protocol=configured), offered, None, tls=False)
    assert decision == Accept(*expected, record_protocol=configured is None)


@pytest.mark.parametrize(
    ("configured", "offered", "wanted"),
    [
        (Protocol.OCPP16, [], "offer ocpp1.6"),
        (Protocol.OCPP16, ["ocpp2.0.1"], "offer ocpp1.6"),
        (Protocol.OCPP16, ["ocpp1.5", "ocpp1.6j"], "offer ocpp1.6"),
        (Protocol.OCPP201, ["ocpp1.6", "ocpp2.0"], "offer ocpp2.0.1"),
        (None, [], "offer ocpp2.0.1 or ocpp1.6"),
        (None, ["ocpp2.1", "chat"], "offer ocpp2.0.1 or ocpp1.6"),
    ],
)
def test_no_acceptable_subprotocol_is_400(
    configured: Protocol | None, offered: list[str], wanted: str
) -> None:
    decision = decide_handshake(station(protocol=configured), offered, None, tls=False)
    assert isinstance(decision, Refuse)
    assert decision.status == 400
    assert decision.reason.endswith(wanted)


def test_subprotocol_is_checked_only_after_authentication() -> None:
    # An anonymous client learns nothing of the station's configuration.
    decision = decide_handshake(station(password=True), ["ocpp2.0.1"], None, tls=False)
    assert isinstance(decision, Refuse)
    assert decision.status == 401


# --- security profiles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "password", "required"),
    [(0, False, 0), (0, True, 1), (1, True, 1), (1, False, 1), (2, True, 2), (3, False, 3)],
)
def test_required_profile(profile: int, password: bool, required: int) -> None:
    assert required_profile(station(profile=profile, password=password)) == required


def test_profile_0_ignores_credentials() -> None:
    for auth in (None, OK_AUTH, ("ST1", "wrong-password-wrong")):
        assert isinstance(decide_handshake(station(), ["ocpp1.6"], auth, tls=False), Accept)


@pytest.mark.parametrize("profile", [0, 1])
@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "HTTP Basic authentication required"),
        (("ST1", "wrong-password-wrong"), "wrong username or password"),
        (("ST2", PASSWORD), "wrong username or password"),
        (("st1", PASSWORD), "wrong username or password"),
        (("ST1", ""), "wrong username or password"),
    ],
)
def test_basic_auth_failures_are_401_with_a_challenge(
    profile: int, auth: tuple[str, str] | None, reason: str
) -> None:
    decision = decide_handshake(
        station(profile=profile, password=True), ["ocpp1.6"], auth, tls=False
    )
    assert isinstance(decision, Refuse)
    assert (decision.status, decision.reason) == (401, reason)
    assert dict(decision.headers)["WWW-Authenticate"].startswith("Basic realm=")


@pytest.mark.parametrize("profile", [0, 1])
@pytest.mark.parametrize("tls", [False, True])
def test_basic_auth_success(profile: int, tls: bool) -> None:
    decision = decide_handshake(
        station(profile=profile, password=True), ["ocpp1.6"], OK_AUTH, tls=tls
    )
    assert decision == Accept(Protocol.OCPP16, "ocpp1.6")


def test_profile_1_without_a_stored_password_cannot_authenticate() -> None:
    decision = decide_handshake(
        station(profile=1), ["ocpp1.6"], ("ST1", "anything-at-all!"), tls=False
    )
    assert isinstance(decision, Refuse)
    assert decision.status == 401


def test_profile_2_needs_tls_before_anything_else() -> None:
    s = station(profile=2, password=True)
    for auth in (None, OK_AUTH, ("ST1", "wrong-password-wrong")):
        decision = decide_handshake(s, ["ocpp1.6"], auth, tls=False)
        assert isinstance(decision, Refuse)
        assert decision.status == 403
        assert "TLS" in decision.reason
    assert decide_handshake(s, ["ocpp1.6"], OK_AUTH, tls=True) == Accept(Protocol.OCPP16, "ocpp1.6")
    refused = decide_handshake(s, ["ocpp1.6"], None, tls=True)
    assert isinstance(refused, Refuse)
    assert refused.status == 401


@pytest.mark.parametrize(
    ("tls", "cn", "status", "reason"),
    [
        (False, None, 403, "TLS"),
        (False, "ST1", 403, "TLS"),
        (True, None, 403, "client certificate"),
        (True, "ST2", 403, "CN"),
    ],
)
def test_profile_3_refusals(tls: bool, cn: str | None, status: int, reason: str) -> None:
    decision = decide_handshake(
        station(profile=3), ["ocpp1.6"], OK_AUTH, tls=tls, client_cert_cn=cn
    )
    assert isinstance(decision, Refuse)
    assert decision.status == status
    assert reason in decision.reason


@pytest.mark.parametrize("password", [False, True])
def test_profile_3_accepts_the_matching_certificate_without_basic_auth(password: bool) -> None:
    s = station(profile=3, password=password)
    decision = decide_handshake(s, ["ocpp1.6"], None, tls=True, client_cert_cn="ST1")
    assert decision == Accept(Protocol.OCPP16, "ocpp1.6")


# --- properties ------------------------------------------------------------------------------

TOKENS = ["ocpp1.6", "OCPP1.6", "ocpp2.0.1", "OCPP2.0.1", "ocpp2.0", "ocpp1.5", "chat", ""]
CANDIDATE_PASSWORDS = [PASSWORD, "wrong-password-wrong", ""]
RARELY = st.sampled_from([False] * 9 + [True])


@st.composite
def handshakes(
    draw: st.DrawFn,
) -> tuple[Station | None, list[str], tuple[str, str] | None, bool, str | None]:
    """Handshakes biased towards acceptance, so that the accepting branch is well explored."""
    base = None if draw(RARELY) else draw(stations())
    if base is not None:
        # A 2.0.1 station may number connectors per EVSE, which 1.6 forbids: keep it 2.0.1.
        protocols = [base.protocol] if base.protocol is Protocol.OCPP201 else [None, *Protocol]
        base = attrs.evolve(
            base,
            security_profile=draw(st.integers(0, 3)),
            password_hash=draw(st.sampled_from([None, HASH, HASH])),
            protocol=draw(st.sampled_from(protocols)),
            closed=draw(RARELY),
        )
    own = [base.id, base.id] if base is not None else []
    auth = draw(
        st.none()
        | st.tuples(
            st.sampled_from([*own, "ST1", "other"]),
            st.sampled_from([PASSWORD, PASSWORD, *CANDIDATE_PASSWORDS]),
        )
    )
    offered = draw(st.lists(st.sampled_from(TOKENS), max_size=4))
    cn = draw(st.none() | st.sampled_from([*own, "other"]))
    return base, offered, auth, draw(st.booleans()), cn


@given(handshakes())
def test_accept_implies_every_check_passed(
    case: tuple[Station | None, list[str], tuple[str, str] | None, bool, str | None],
) -> None:
    s, offered, auth, tls, cn = case
    decision = decide_handshake(s, offered, auth, tls=tls, client_cert_cn=cn)
    if s is None or s.closed:
        assert decision == Refuse(404, "unknown station")
        return
    if not isinstance(decision, Accept):
        assert decision.status in (400, 401, 403)
        return
    # Never accept a station whose password check fails.
    profile = required_profile(s)
    if profile in (1, 2):
        assert auth is not None
        assert auth[0] == s.id
        assert verify_password(auth[1], s.password_hash)
    if profile >= 2:
        assert tls
    if profile == 3:
        assert cn == s.id
    # The selected subprotocol is one that was offered, and names the right protocol.
    assert decision.subprotocol in offered
    assert decision.subprotocol.lower() == decision.protocol.value
    assert decision.record_protocol == (s.protocol is None)
    if s.protocol is not None:
        assert decision.protocol is s.protocol
    elif any(token.lower() == "ocpp2.0.1" for token in offered):
        assert decision.protocol is Protocol.OCPP201  # the newest offered
