"""TLS for the OCPP endpoint (security profiles 2 and 3).

:func:`server_context` builds the server's :class:`ssl.SSLContext`:

* TLS 1.2 or newer only, as the OCPP security whitepaper requires;
* one or more certificate/key pairs: give an ECDSA and an RSA pair so that every cipher
  suite OCPP names can be negotiated (OpenSSL picks the certificate matching the suite);
* with a client CA, the server *asks* every station for a client certificate and verifies
  one that is shown against that CA (``CERT_OPTIONAL``), without requiring one: stations on
  profile 2 authenticate with HTTP Basic auth instead. Whether a station must show a
  certificate is decided per station by the handshake rules
  (:mod:`evcharge_core.domain.handshake`): profile 3 requires one whose subject CN is the
  station ID.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

__all__ = ["TLSConfigError", "server_context"]


class TLSConfigError(ValueError):
    """A certificate, key or CA file that cannot be used; the message names the file."""


def server_context(
    pairs: Sequence[tuple[str | Path, str | Path]], client_ca: str | Path | None = None
) -> ssl.SSLContext:
    """A server context from ``(certificate PEM, key PEM)`` pairs and an optional client CA."""
    if not pairs:
        raise TLSConfigError("TLS needs at least one certificate and key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for cert, key in pairs:
        try:
            context.load_cert_chain(certfile=cert, keyfile=key)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(
                f"cannot use certificate {cert} with key {key}: {_reason(exc)}"
            ) from None
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TLSConfigError(f"cannot use client CA {client_ca}: {_reason(exc)}") from None
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _reason(exc: OSError | ssl.SSLError) -> str:
    return str(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc)
