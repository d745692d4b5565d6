"""What to simulate: :class:`SimulationConfig`, one frozen value for every station in a run."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote, urlsplit

import attrs

__all__ = ["SUPPORTED_PROTOCOLS", "SimulationConfig"]

#: The websocket subprotocols the simulator speaks (the OCPP versions it simulates).
SUPPORTED_PROTOCOLS: Final = ("ocpp1.6", "ocpp2.0.1")
#: The longest id tag (1.6 ``idTag``) or ID token (2.0.1 ``idToken``) per protocol.
_ID_TAG_MAX: Final = {"ocpp1.6": 20, "ocpp2.0.1": 36}


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be greater than 0, not {value}")


def _not_negative(instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative, not {value}")


def _seconds_range(
    instance: Any, attribute: attrs.Attribute[Any], value: tuple[float, float]
) -> None:
    low, high = value
    if low < 0 or high < low:
        raise ValueError(f"{attribute.name} must be (low, high) with 0 <= low <= high, not {value}")


def _to_range(value: tuple[float, float] | float) -> tuple[float, float]:
    if isinstance(value, int | float):
        return (float(value), float(value))
    low, high = value
    return (float(low), float(high))


def _url(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"url must be ws://HOST[:PORT]/PATH or wss://..., not {value!r}")


def _id_tag(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    most = _ID_TAG_MAX.get(instance.protocol, 20)
    if not 1 <= len(value) <= most:
        raise ValueError(
            f"id_tag must be 1 to {most} characters for {instance.protocol}, not {value!r}"
        )


def _protocol(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in SUPPORTED_PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(SUPPORTED_PROTOCOLS)}, not {value!r}")


def _prefix(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value or any(ch.isspace() or ch == "/" for ch in value):
        raise ValueError(f"id_prefix must be non-empty, without spaces or '/', not {value!r}")


@attrs.frozen(kw_only=True)
class SimulationConfig:
    """Everything a simulation run needs; times are in seconds.

    ``url`` is the CSMS's OCPP endpoint; each station connects to ``url`` + its ID (a ``/``
    is added between them if ``url`` does not end with one). Station IDs are ``id_prefix``
    followed by the numbers ``id_start`` .. ``id_start + stations - 1``.

    Ranges such as ``think_time`` are ``(low, high)`` pairs; each wait is drawn uniformly
    from the range (a single number means a fixed time).
    """

    url: str = attrs.field(validator=_url)
    #: How many stations to simulate.
    stations: int = attrs.field(default=1, validator=_positive)
    id_prefix: str = attrs.field(default="SIM", validator=_prefix)
    id_start: int = attrs.field(default=1, validator=_not_negative)
    #: The websocket subprotocol offered (and the OCPP version spoken).
    protocol: str = attrs.field(default="ocpp1.6", validator=_protocol)
    #: Connectors per station (OCPP 2.0.1: EVSEs, of one connector each).
    connectors: int = attrs.field(default=2, validator=_positive)
    #: The HTTP Basic auth password (user: the station ID); ``None``: no Authorization header.
    password: str | None = None
    #: Stop after this many seconds; ``None``: run until stopped.
    duration: float | None = attrs.field(default=None, validator=_positive)
    #: Whether drivers start charging sessions by themselves (remote starts work either way).
    transactions: bool = True
    #: Seconds between meter samples in a transaction: the initial ``MeterValueSampleInterval``
    #: (1.6) or ``SampledDataCtrlr.TxUpdatedInterval`` (2.0.1).
    meter_interval: int = attrs.field(default=30, validator=_not_negative)
    #: The id tag (2.0.1: the ``ISO14443`` ID token) drivers present.
    id_tag: str = attrs.field(default="SIMTAG", validator=_id_tag)
    #: Seed for every random choice (think times, vehicles, meter noise), per station.
    seed: int | None = None
    #: Idle time of a connector before the next driver arrives.
    think_time: tuple[float, float] = attrs.field(
        default=(10.0, 60.0), converter=_to_range, validator=_seconds_range
    )
    #: How long a driver charges before stopping (unless the car is full first: it then
    #: reports SuspendedEV until this time).
    charge_time: tuple[float, float] = attrs.field(
        default=(60.0, 300.0), converter=_to_range, validator=_seconds_range
    )
    #: Time between StopTransaction (Finishing) and unplugging (Available).
    unplug_time: tuple[float, float] = attrs.field(
        default=(2.0, 10.0), converter=_to_range, validator=_seconds_range
    )
    #: How long to wait for the CSMS's answer to a CALL.
    call_timeout: float = attrs.field(default=30.0, validator=_positive)
    #: How long the websocket opening handshake may take.
    open_timeout: float = attrs.field(default=10.0, validator=_positive)
    #: Reconnection backoff: the first delay and the cap (doubling, with jitter).
    reconnect_delay: tuple[float, float] = attrs.field(
        default=(1.0, 60.0), converter=_to_range, validator=_seconds_range
    )
    #: BootNotification retry delay when the CSMS gives interval 0 or answers a CallError.
    boot_retry: float = attrs.field(default=30.0, validator=_positive)
    #: Time a rebooting station (Reset) stays offline.
    reboot_delay: float = attrs.field(default=2.0, validator=_not_negative)
    #: Spread the stations' first connections over this many seconds.
    ramp_up: float = attrs.field(default=0.0, validator=_not_negative)
    #: At the end, how long stations may take to stop their transactions and close.
    shutdown_grace: float = attrs.field(default=5.0, validator=_not_negative)

    def station_ids(self) -> list[str]:
        """Every simulated station's ID, in order."""
        return [f"{self.id_prefix}{n}" for n in range(self.id_start, self.id_start + self.stations)]

    def station_url(self, station_id: str) -> str:
        """The URL station ``station_id`` connects to."""
        base = self.url if self.url.endswith("/") else self.url + "/"
        return base + quote(station_id, safe="")

    @property
    def max_security_profile(self) -> int:
        """The highest OCPP security profile the stations can use: 2 over TLS, else 1."""
        return 2 if urlsplit(self.url).scheme == "wss" else 1
