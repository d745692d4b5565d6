"""What a simulated station decides to answer, and what the I/O layer does afterwards.

Both station models (:class:`~evcharge_core.simulator.StationModel` for OCPP 1.6,
:class:`~evcharge_core.simulator.StationModel201` for OCPP 2.0.1) answer a CSMS's CALL with an
:class:`Answer`: a response payload or a CallError, plus :data:`Effect` values that
:class:`~evcharge_core.simulator.SimulatedStation` carries out once the answer is sent (send a
triggered message, reboot, wake the connector loops, ...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from ._ocppj import CallErrorReply

__all__ = [
    "Answer",
    "Effect",
    "InstallFirmware",
    "Reboot",
    "SendReport",
    "SendTriggered",
    "StatusMayHaveChanged",
    "UploadDiagnostics",
    "Wake",
]


@attrs.frozen
class StatusMayHaveChanged:
    """Some connector's status may differ from the last one reported: report the changes."""


@attrs.frozen
class Wake:
    """State the connector loops or the heartbeat depend on changed: let them look again."""


@attrs.frozen
class SendTriggered:
    """TriggerMessage: send ``message`` after answering.

    OCPP 1.6: for ``connector_id`` when given. OCPP 2.0.1: for EVSE ``evse_id`` (and its
    connector ``connector_id``) when given.
    """

    message: str
    connector_id: int | None = None
    evse_id: int | None = None


@attrs.frozen
class Reboot:
    """Reset: stop the transactions, close the connection, reboot.

    ``kind`` is the reset type asked for: ``Hard`` or ``Soft`` (1.6), ``Immediate`` or
    ``OnIdle`` (2.0.1; an OnIdle reset is only carried out once no transaction runs).
    """

    kind: str


@attrs.frozen
class UploadDiagnostics:
    """GetDiagnostics (1.6): report Uploading, then Uploaded (nothing is really uploaded)."""

    file_name: str


@attrs.frozen
class InstallFirmware:
    """UpdateFirmware (1.6): at ``retrieve_at``, report Downloading .. Installed (simulated)."""

    retrieve_at: datetime


@attrs.frozen
class SendReport:
    """GetBaseReport (2.0.1): send the report ``report_base`` as NotifyReport messages."""

    request_id: int
    report_base: str


Effect = (
    StatusMayHaveChanged
    | Wake
    | SendTriggered
    | Reboot
    | UploadDiagnostics
    | InstallFirmware
    | SendReport
)


@attrs.frozen
class Answer:
    """The answer to one CALL: a payload (CALLRESULT) or an error (CALLERROR), and effects."""

    payload: dict[str, Any] | None = None
    error: CallErrorReply | None = None
    effects: tuple[Effect, ...] = ()

    @classmethod
    def result(cls, payload: dict[str, Any], *effects: Effect) -> Answer:
        """A CALLRESULT with these effects."""
        return cls(payload=payload, effects=effects)

    @classmethod
    def status(cls, status: str, *effects: Effect) -> Answer:
        """A CALLRESULT ``{"status": status}`` with these effects."""
        return cls(payload={"status": status}, effects=effects)
