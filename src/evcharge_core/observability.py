"""What the protocol layers and the operator commands report for metrics, whatever the
protocol: :class:`MessageObserver`, with :class:`NullObserver` (the default: report nothing)
and :class:`PrometheusObserver` (counters and histograms in a Prometheus registry).

The OCPP 1.6 and 2.0.1 sessions (:func:`evcharge_core.ocpp16.session_factory`,
:func:`evcharge_core.ocpp201.session_factory`) report every message a station sends and every
CALL the CSMS sends; :class:`~evcharge_core.commands.CommandService`
reports how long each operator command took. The reference server gives them a
:class:`PrometheusObserver` over the admin API's registry, so ``/metrics`` shows them::

    registry = CollectorRegistry()
    core = build_core(repository, observer=PrometheusObserver(registry))
    app = create_app(service, token=token, metrics=registry)

Label values stay few: ``action`` is an action name of the protocol, or
:data:`UNKNOWN_ACTION` for anything else a station sends; ``outcome`` is ``ok``, a CallError
code of the protocol, :data:`OTHER_ERROR` (a CallError code the protocol does not define),
``timeout``, ``disconnected``, ``cancelled`` or :data:`UNANSWERED`.
"""

from __future__ import annotations

from typing import Final, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = [
    "CANCELLED",
    "DISCONNECTED",
    "OK",
    "OTHER_ERROR",
    "TIMEOUT",
    "UNANSWERED",
    "UNKNOWN_ACTION",
    "MessageObserver",
    "NullObserver",
    "PrometheusObserver",
]

OK: Final = "ok"
"""The outcome of a CALL answered with a CALLRESULT."""

TIMEOUT: Final = "timeout"
"""The outcome of a CSMS CALL the station did not answer in time."""

DISCONNECTED: Final = "disconnected"
"""The outcome of a CSMS CALL whose connection closed (or failed to send) before its answer."""

CANCELLED: Final = "cancelled"
"""The outcome of a CSMS CALL whose caller gave up waiting (its task was cancelled)."""

UNANSWERED: Final = "(unanswered)"
"""The outcome of a station frame that is answered with nothing (no readable message ID)."""

UNKNOWN_ACTION: Final = "(unknown)"
"""The ``action`` of a station frame that names no action of its protocol, or none at all."""

OTHER_ERROR: Final = "(other)"
"""The outcome of a CallError whose code the protocol does not define."""


class MessageObserver(Protocol):
    """Told about every message exchanged with stations and every operator command.

    ``inbound``: a message a station sent (a CALL), its ``outcome`` (``ok`` for a
    CALLRESULT, else the CallError code it was answered with) and how long handling it took.
    ``outbound``: a CALL the CSMS sent, its outcome (``ok``, the station's CallError code,
    ``timeout``...) and its round trip. ``command``: one operator command of
    :class:`~evcharge_core.commands.CommandService` and how long it took, whatever its
    outcome. Calls must be quick and must not raise.
    """

    def inbound(self, action: str, outcome: str, seconds: float) -> None: ...

    def outbound(self, action: str, outcome: str, seconds: float) -> None: ...

    def command(self, command: str, seconds: float) -> None: ...


class NullObserver:
    """A :class:`MessageObserver` that ignores everything (the default)."""

    def inbound(self, action: str, outcome: str, seconds: float) -> None:
        pass

    def outbound(self, action: str, outcome: str, seconds: float) -> None:
        pass

    def command(self, command: str, seconds: float) -> None:
        pass


class PrometheusObserver:
    """A :class:`MessageObserver` keeping Prometheus metrics in ``registry`` (give it the
    admin app's, ``app.state.metrics``, or pass the same registry to
    :func:`~evcharge_core.admin.create_app`):

    * ``evcharge_ocpp_messages_total{direction, action, outcome}``: messages, ``direction``
      ``inbound`` (sent by a station) or ``outbound`` (CALLs sent by the CSMS);
    * ``evcharge_ocpp_message_seconds{direction, action}``: handling time (inbound) or round
      trip (outbound);
    * ``evcharge_command_seconds{command}``: operator command duration.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "evcharge_ocpp_messages",
            "OCPP messages by direction, action and outcome (ok or the CallError code).",
            ["direction", "action", "outcome"],
            registry=registry,
        )
        self.message_seconds = Histogram(
            "evcharge_ocpp_message_seconds",
            "OCPP message handling time (inbound) or round trip (outbound) in seconds.",
            ["direction", "action"],
            registry=registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self.command_seconds = Histogram(
            "evcharge_command_seconds",
            "Operator command duration in seconds, by command.",
            ["command"],
            registry=registry,
        )

    def _message(self, direction: str, action: str, outcome: str, seconds: float) -> None:
        # Every OCPP message passes here: the labelled children are looked up once each
        # (prometheus_client's ``labels()`` checks and joins its arguments on every call).
        key = (direction, action, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.messages.labels(direction=direction, action=action, outcome=outcome),
                self.message_seconds.labels(direction=direction, action=action),
            )
        children[0].inc()
        children[1].observe(seconds)

    def inbound(self, action: str, outcome: str, seconds: float) -> None:
        self._message("inbound", action, outcome, seconds)

    def outbound(self, action: str, outcome: str, seconds: float) -> None:
        self._message("outbound", action, outcome, seconds)

    def command(self, command: str, seconds: float) -> None:
        self.command_seconds.labels(command=command).observe(seconds)
