"""Station passwords for HTTP Basic auth on the OCPP websocket (security profiles 1 and 2).

OCPP requires the password to be 16 to 40 characters; CSMS-generated ones are random. A
password of that length is not guessable, so what protects it at rest is the salt and a
one-way hash, not a slow KDF; and verification must stay cheap, because a reconnect storm of
10 000 stations verifies 10 000 passwords at once (a 50 ms KDF would cost 8 CPU-minutes).
The scheme is therefore salted SHA-256, stored as ``sha256$SALT$HASH`` (base64), compared in
constant time. The salt is passed in: the domain draws no randomness.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "hash_password",
    "parse_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH: Final = 16
MAX_PASSWORD_LENGTH: Final = 40
_SCHEME: Final = "sha256"


def parse_password(text: str) -> str:
    """A station password: 16 to 40 printable ASCII characters, as OCPP requires."""
    if not MIN_PASSWORD_LENGTH <= len(text) <= MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be 16 to 40 characters long, got {len(text)}")
    if not all(" " < c <= "~" for c in text):
        raise ValueError("password must be printable ASCII without spaces")
    return text


def _digest(password: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + password.encode()).digest()


def hash_password(password: str, salt: bytes) -> str:
    if len(salt) < 16:
        raise ValueError("salt must be at least 16 bytes")
    salt_text = base64.b64encode(salt).decode("ascii")
    digest_text = base64.b64encode(_digest(password, salt)).decode("ascii")
    return f"{_SCHEME}${salt_text}${digest_text}"


def verify_password(password: str, encoded: str | None) -> bool:
    """Whether ``password`` matches the stored ``encoded`` hash (``None`` never matches)."""
    if encoded is None:
        return False
    try:
        scheme, salt_text, digest_text = encoded.split("$")
        salt, expected = base64.b64decode(salt_text), base64.b64decode(digest_text)
    except ValueError:
        return False
    return scheme == _SCHEME and hmac.compare_digest(_digest(password, salt), expected)
