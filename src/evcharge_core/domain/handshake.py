"""The websocket handshake decision: may this station connect, and with which subprotocol?

Pure and sans-I/O: :func:`decide_handshake` takes what the transport read from the HTTP
upgrade request (the station as stored, the offered subprotocols, the Basic credentials, the
TLS facts) and returns :class:`Accept` or :class:`Refuse`. The transport turns a refusal
into an HTTP response, so no websocket opens.

The checks run in this order, and the first one that fails decides:

1. **Station** — unknown, or closed by the operator: ``404``. (Unavoidably this tells an
   anonymous client which station IDs exist; SPEC §6 asks for it.)
2. **Security profile** (SPEC §6, CONTRACT "Reference server"), against the *required*
   profile, see :func:`required_profile`:

   * 0 — no authentication; any credentials sent are ignored.
   * 1 — HTTP Basic auth: username equal to the station ID, password verified by
     :func:`~evcharge_core.domain.credentials.verify_password` against the stored hash.
     Missing, malformed or wrong credentials: ``401`` with a ``WWW-Authenticate: Basic``
     header, so a client knows what to send. A profile-1 station with no password stored
     cannot be authenticated and is refused the same way.
   * 2 — as 1, over TLS. Plain ``ws://`` is refused with ``403`` *before* the credentials
     are looked at (they were already sent in clear; the answer does not say whether they
     were right). 403, not 400 or 401: the request is well-formed and the credentials are
     beside the point; this transport is forbidden for the station.
   * 3 — TLS and a client certificate whose subject CN is the station ID. No TLS, no
     certificate or another CN: ``403``. Basic credentials are not asked for: at profile 3
     the certificate is the credential, and a stored password is ignored.

   **A stored password implies Basic auth**: a station with a password and profile 0 is
   treated as profile 1 (CONTRACT: "default: 1 when it has a password"; SPEC: "a station with
   a password set must present HTTP Basic auth"). Setting a password therefore never
   *lowers* protection by accident.
3. **Subprotocol** — checked only once the station is authenticated, so an anonymous client
   learns nothing of its configuration. Known values are ``ocpp1.6`` and ``ocpp2.0.1``,
   matched case-insensitively; the token is echoed back exactly as the client offered it
   (websocket clients compare it byte for byte). A station with a configured protocol needs
   it among the offered ones; a station whose protocol is unset (imported, never connected)
   gets the newest known version offered (``ocpp2.0.1`` before ``ocpp1.6``) and
   :attr:`Accept.record_protocol` tells the caller to store it. Nothing acceptable: ``400``.

Station state beyond "closed" (inactive, registration Pending or Rejected) does not refuse
the handshake: those stations must connect to be told, through BootNotification, to wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeAlias

import attrs

from .credentials import verify_password
from .model import Station
from .values import Protocol

__all__ = [
    "KNOWN_SUBPROTOCOLS",
    "Accept",
    "HandshakeDecision",
    "Refuse",
    "decide_handshake",
    "required_profile",
    "select_subprotocol",
]

KNOWN_SUBPROTOCOLS: Final[dict[str, Protocol]] = {
    "ocpp1.6": Protocol.OCPP16,
    "ocpp2.0.1": Protocol.OCPP201,
}
"""Websocket subprotocol tokens (lower case) and the protocol each one names."""

_NEWEST_FIRST: Final = (Protocol.OCPP201, Protocol.OCPP16)
_BASIC_CHALLENGE: Final = ("WWW-Authenticate", 'Basic realm="OCPP", charset="UTF-8"')


@attrs.frozen
class Accept:
    """Open the websocket.

    ``subprotocol`` is the token to send back in ``Sec-WebSocket-Protocol``: one of the
    offered tokens, spelt as offered. ``protocol`` is what it means. ``record_protocol`` is
    true when the station had no protocol yet and the caller must store ``protocol``.
    """

    protocol: Protocol
    subprotocol: str
    record_protocol: bool = False


@attrs.frozen
class Refuse:
    """Answer the upgrade request with an HTTP error; no websocket opens.

    ``reason`` is a short text, safe to show the client (the response body). ``headers``
    are extra response headers, such as the ``WWW-Authenticate`` challenge of a ``401``.
    """

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


HandshakeDecision: TypeAlias = Accept | Refuse
"""What :func:`decide_handshake` returns."""


def required_profile(station: Station) -> int:
    """The security profile a handshake must meet: the station's, raised to 1 when it has a
    password (a stored password always means Basic auth)."""
    if station.password_hash is not None:
        return max(station.security_profile, 1)
    return station.security_profile


def select_subprotocol(
    configured: Protocol | None, offered: Sequence[str]
) -> tuple[Protocol, str] | None:
    """The protocol and the offered token (spelt as offered) to select, or ``None``.

    With ``configured`` set, the first offered token naming it; without, the first token
    naming the newest known version offered.
    """
    by_protocol: dict[Protocol, str] = {}
    for token in offered:
        protocol = KNOWN_SUBPROTOCOLS.get(token.lower())
        if protocol is not None:
            by_protocol.setdefault(protocol, token)
    wanted = (configured,) if configured is not None else _NEWEST_FIRST
    for protocol in wanted:
        if protocol in by_protocol:
            return protocol, by_protocol[protocol]
    return None


def _check_basic(station: Station, basic_auth: tuple[str, str] | None) -> Refuse | None:
    if basic_auth is None:
        return Refuse(401, "HTTP Basic authentication required", (_BASIC_CHALLENGE,))
    username, password = basic_auth
    # Verify the password even when the username is wrong, so both failures cost the same.
    password_ok = verify_password(password, station.password_hash)
    if username != station.id or not password_ok:
        return Refuse(401, "wrong username or password", (_BASIC_CHALLENGE,))
    return None


def _check_security(
    station: Station,
    basic_auth: tuple[str, str] | None,
    *,
    tls: bool,
    client_cert_cn: str | None,
) -> Refuse | None:
    profile = required_profile(station)
    if profile == 0:
        return None
    if profile >= 2 and not tls:
        return Refuse(403, f"security profile {profile} requires TLS (connect with wss://)")
    if profile == 3:
        if client_cert_cn is None:
            return Refuse(403, "security profile 3 requires a TLS client certificate")
        if client_cert_cn != station.id:
            return Refuse(403, "the client certificate's CN is not the station ID")
        return None
    return _check_basic(station, basic_auth)


def decide_handshake(
    station: Station | None,
    offered_subprotocols: Sequence[str],
    basic_auth: tuple[str, str] | None,
    *,
    tls: bool,
    client_cert_cn: str | None = None,
) -> Accept | Refuse:
    """Decide a station's websocket handshake (rules in the module docstring).

    ``station`` is the stored station named by the URL (``None`` if there is none);
    ``offered_subprotocols`` the tokens of the client's ``Sec-WebSocket-Protocol`` headers;
    ``basic_auth`` the ``(username, password)`` of a well-formed ``Authorization: Basic``
    header, else ``None``; ``tls`` whether the connection is encrypted; ``client_cert_cn``
    the subject CN of a client certificate the TLS layer verified, else ``None``.
    """
    if station is None or station.closed:
        return Refuse(404, "unknown station")
    refused = _check_security(station, basic_auth, tls=tls, client_cert_cn=client_cert_cn)
    if refused is not None:
        return refused
    selected = select_subprotocol(station.protocol, offered_subprotocols)
    if selected is None:
        wanted = station.protocol or " or ".join(_NEWEST_FIRST)
        return Refuse(400, f"unsupported subprotocol: offer {wanted}")
    protocol, token = selected
    return Accept(protocol, token, record_protocol=station.protocol is None)
