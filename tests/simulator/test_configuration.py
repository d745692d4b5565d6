"""Configuration keys (``simulator._configuration``)."""

from __future__ import annotations

import pytest

from evcharge_core.simulator._configuration import SAMPLEABLE_MEASURANDS, Configuration


def make(password: str | None = None, profile: int = 1) -> Configuration:
    return Configuration.create(
        connectors=2, meter_interval=30, password=password, max_security_profile=profile
    )


def test_full_listing_leaves_out_the_write_only_key() -> None:
    known, unknown = make("0123456789abcdef").get()
    keys = {item["key"]: item for item in known}
    assert "AuthorizationKey" not in keys
    assert unknown == []
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "2",
    }
    assert keys["MeterValueSampleInterval"]["value"] == "30"
    assert keys["HeartbeatInterval"]["readonly"] is False
    assert keys["SecurityProfile"]["value"] == "1"
    assert all(len(item["key"]) <= 50 and len(item["value"]) <= 500 for item in known)


def test_asking_by_name() -> None:
    known, unknown = make("0123456789abcdef").get(
        ["HeartbeatInterval", "Nope", "AuthorizationKey", "HeartbeatInterval"]
    )
    assert [item["key"] for item in known] == ["HeartbeatInterval"]
    assert unknown == ["Nope", "AuthorizationKey"]


@pytest.mark.parametrize(
    ("key", "value", "status", "stored"),
    [
        ("HeartbeatInterval", "60", "Accepted", "60"),
        ("HeartbeatInterval", " 07 ", "Accepted", "7"),
        ("HeartbeatInterval", "-1", "Rejected", "300"),
        ("HeartbeatInterval", "1.5", "Rejected", "300"),
        ("HeartbeatInterval", "99999999999", "Rejected", "300"),
        ("LocalPreAuthorize", "TRUE", "Accepted", "true"),
        ("LocalPreAuthorize", "yes", "Rejected", "false"),
        ("MeterValuesSampledData", "Voltage, SoC", "Accepted", "Voltage,SoC"),
        ("MeterValuesSampledData", "", "Accepted", ""),
        ("MeterValuesSampledData", "Temperature", "Rejected", None),
        ("MeterValuesSampledData", ",".join(SAMPLEABLE_MEASURANDS * 2), "Rejected", None),
        ("ConnectorPhaseRotation", "0.RST,1.RTS", "Accepted", "0.RST,1.RTS"),
        ("ConnectorPhaseRotation", "x" * 501, "Rejected", None),
        ("NumberOfConnectors", "3", "Rejected", "2"),
        ("NoSuchKey", "1", "NotSupported", None),
        ("AuthorizationKey", "short", "Rejected", ""),
        ("AuthorizationKey", "a" * 41, "Rejected", ""),
        ("AuthorizationKey", "0123456789abcdef", "Accepted", "0123456789abcdef"),
    ],
)
def test_change(key: str, value: str, status: str, stored: str | None) -> None:
    config = make()
    before = config.values.get(key)
    assert config.change(key, value) == status
    if stored is not None:
        assert config.values[key] == stored
    elif key in config.values:
        assert config.values[key] == before


def test_authorization_key_is_the_next_password() -> None:
    config = make()
    assert config.authorization_key is None
    assert config.change("AuthorizationKey", "new-password-0123") == "Accepted"
    assert config.authorization_key == "new-password-0123"


def test_security_profile_only_grows_within_what_is_supported() -> None:
    config = make()
    assert config.change("SecurityProfile", "1") == "Rejected"  # no password yet
    config.change("AuthorizationKey", "0123456789abcdef")
    assert config.change("SecurityProfile", "1") == "Accepted"
    assert config.change("SecurityProfile", "0") == "Rejected"
    assert config.change("SecurityProfile", "2") == "Rejected"  # needs TLS
    assert config.change("SecurityProfile", "x") == "Rejected"
    tls = make("0123456789abcdef", profile=2)
    assert tls.change("SecurityProfile", "2") == "Accepted"


def test_typed_accessors_and_set() -> None:
    config = make()
    assert config.integer("MeterValueSampleInterval") == 30
    assert config.boolean("AuthorizeRemoteTxRequests") is True
    assert config.measurands("MeterValuesSampledData")[0] == "Energy.Active.Import.Register"
    assert config.measurands("StopTxnSampledData") == []
    config.set("HeartbeatInterval", "5")
    assert config.integer("HeartbeatInterval") == 5
    with pytest.raises(KeyError):
        config.set("Nope", "1")
