"""The one error hierarchy of evcharge_core.

Every error the library raises on purpose derives from :class:`EvchargeError`, and also from
the builtin it resembles, so ``except ValueError`` keeps working for callers who do not know
our names::

    EvchargeError
    ├── InvalidInput (ValueError)          a user's or a file's bad input, with located issues
    │   └── ImportRejected                 an import file with errors: nothing was imported
    ├── NotFound (LookupError)             an unknown station, charger, connector or area
    ├── Conflict                           the request contradicts stored state
    │   ├── AlreadyActivated
    │   └── StationNotConnected            a live command to a station with no connection
    ├── CommandTimeout (TimeoutError)      the station did not answer a command in time
    ├── StationCallError                   the station answered a command with a CallError
    │   └── StationProtocolError           ... or with an answer that breaks the protocol
    ├── ActivationMismatch (ValueError)    unknown station ID or wrong security code
    ├── ActivationThrottled                too many failed activations for one station ID
    └── StorageError (RuntimeError)        the database cannot be opened, read or written

``InvalidInput`` is the *remote* side of the STYLE guide's split: someone else's input is
wrong and the message says what and where. Our own misuse of the library raises plain
``TypeError``/``ValueError`` from attrs validators, or ``AssertionError`` in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

__all__ = [
    "MAX_SHOWN_ISSUES",
    "ActivationMismatch",
    "ActivationThrottled",
    "AlreadyActivated",
    "CommandTimeout",
    "Conflict",
    "EvchargeError",
    "ImportRejected",
    "InvalidInput",
    "Issue",
    "NotFound",
    "StationCallError",
    "StationNotConnected",
    "StationProtocolError",
    "StorageError",
]


MAX_SHOWN_ISSUES: Final = 100
"""How many errors of one input an operator is shown (the import rules say 100); the total
is always given too."""


@attrs.frozen
class Issue:
    """One located problem with some input: an error or a warning.

    ``line`` is 1-based and counts the CSV header as line 1; ``column`` is the header's name;
    ``field`` names a JSON field (dotted, with list indexes: ``connectors[1].voltage``).
    """

    message: str
    line: int | None = None
    column: str | None = None
    field: str | None = None

    def location(self) -> str:
        """``line 3, column "Voltage"``, ``field "station_id"``, or an empty string."""
        parts: list[str] = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f'column "{self.column}"')
        if self.field is not None:
            parts.append(f'field "{self.field}"')
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


class EvchargeError(Exception):
    """Root of every error evcharge_core raises on purpose."""


class InvalidInput(EvchargeError, ValueError):
    """Input that breaks a rule; ``issues`` lists every problem found, located."""

    def __init__(self, issues: Sequence[Issue] | str) -> None:
        if isinstance(issues, str):
            issues = [Issue(issues)]
        self.issues: tuple[Issue, ...] = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues[:5]))


class ImportRejected(InvalidInput):
    """An import with at least one error. Nothing was stored.

    ``issues`` holds the first 100 errors (the number an operator is shown), ``error_count``
    the total, and ``warnings`` what would have been reported on success.
    """

    def __init__(
        self,
        issues: Sequence[Issue],
        error_count: int | None = None,
        warnings: Sequence[Issue] = (),
    ) -> None:
        super().__init__(list(issues)[:MAX_SHOWN_ISSUES])
        self.error_count = len(issues) if error_count is None else error_count
        self.warnings: tuple[Issue, ...] = tuple(warnings)


class NotFound(EvchargeError, LookupError):
    """No such station, charger, connector or area."""

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class Conflict(EvchargeError):
    """The request contradicts what is stored (a code in use, an active station...)."""


class AlreadyActivated(Conflict):
    """Activation of a station that is already active."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        super().__init__(f"station {station_id} is already activated")


class StationNotConnected(Conflict):
    """A live command to a station that has no open connection (or lost it meanwhile)."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        super().__init__(f"station {station_id} is not connected")


class CommandTimeout(EvchargeError, TimeoutError):
    """The station did not answer a command within ``timeout_s`` seconds. The command may
    still have been carried out: the station's late answer is ignored."""

    def __init__(self, station_id: str, action: str, timeout_s: float) -> None:
        self.station_id = station_id
        self.action = action
        self.timeout_s = timeout_s
        super().__init__(f"station {station_id} did not answer {action} within {timeout_s:g} s")


class StationCallError(EvchargeError):
    """The station answered a command with an OCPP CallError: ``code`` (such as
    ``NotSupported`` or ``InternalError``), ``description`` and ``details`` are its own."""

    def __init__(
        self,
        station_id: str,
        action: str,
        code: str,
        description: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.station_id = station_id
        self.action = action
        self.code = code
        self.description = description
        self.details: dict[str, Any] = dict(details or {})
        said = f": {description}" if description else ""
        super().__init__(f"station {station_id} answered {action} with {code}{said}")


class StationProtocolError(StationCallError):
    """The station's answer to a command breaks OCPP (a payload its schema rejects, a
    malformed frame). ``code`` is the OCPP-J code naming the violation (for example
    ``TypeConstraintViolation``); ``details["payload"]`` holds what the station sent, when it
    could be read."""

    def __init__(
        self,
        station_id: str,
        action: str,
        code: str,
        description: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(station_id, action, code, description, details)
        self.args = (f"station {station_id} answered {action} in breach of OCPP: {description}",)


class ActivationMismatch(EvchargeError, ValueError):
    """Unknown station ID or wrong security code: deliberately the same error for both."""

    def __init__(self) -> None:
        super().__init__("station ID and security code do not match")


class ActivationThrottled(EvchargeError):
    """Too many failed activation attempts for one station ID; retry after some seconds."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"too many failed activation attempts; try again in {max(1, round(retry_after_s))} s"
        )


class StorageError(EvchargeError, RuntimeError):
    """The database cannot be opened, read or written; nothing was changed."""
