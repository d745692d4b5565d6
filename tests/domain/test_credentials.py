"""Station passwords: length rules and the cheap salted hash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.credentials import hash_password, parse_password, verify_password

SALT = b"0123456789abcdef"
passwords = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=40
)


@given(passwords)
def test_valid_passwords_round_trip(password: str) -> None:
    assert parse_password(password) == password
    encoded = hash_password(password, SALT)
    assert verify_password(password, encoded)
    assert not verify_password(password[:-1], encoded)


@pytest.mark.parametrize("bad", ["short", "x" * 41, "sixteen chars ok"])
def test_invalid_passwords_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="password"):
        parse_password(bad)


@pytest.mark.parametrize("stored", [None, "", "sha256$only-two", "md5$AAAA$AAAA"])
def test_unusable_hashes_never_match(stored: str | None) -> None:
    assert not verify_password("0123456789abcdef", stored)


def test_short_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        hash_password("0123456789abcdef", b"salt")
