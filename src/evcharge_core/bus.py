"""An in-process event bus: the reference :class:`~evcharge_core.ports.EventSink`.

The application services publish domain events after each commit; whoever wants them
subscribes a callback::

    bus = LocalEventBus()
    unsubscribe = bus.subscribe(lambda event: print(event))
    stations = StationService(repository, events=bus)
    ...
    unsubscribe()

Callbacks are called synchronously, in subscription order, once per event, inside
:meth:`LocalEventBus.publish`, so they must be quick: one that has I/O to do schedules it
(``asyncio.get_running_loop().create_task(...)``) and keeps a reference to the task. A
callback that raises is logged and the others still run: a subscriber's bug never fails the
use case that published the event (it is already committed). A process running several
gateways, or a service across processes, plugs its own sink (a message broker) in instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence

from .domain.events import Event

__all__ = ["EventCallback", "LocalEventBus"]

logger = logging.getLogger(__name__)

EventCallback = Callable[[Event], None]
"""A subscriber: called with each published event."""


class NullEventSink:
    """An :class:`~evcharge_core.ports.EventSink` that drops every event: the services'
    default when nobody listens."""

    def publish(self, events: Sequence[Event]) -> None:
        pass


class LocalEventBus:
    """Delivers published events to the callbacks subscribed in this process."""

    def __init__(self) -> None:
        self._subscribers: list[EventCallback] = []

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` with every event published from now on; return the function
        that unsubscribes it (idempotent)."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):  # already unsubscribed
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, events: Sequence[Event]) -> None:
        """Hand each event, in order, to every subscriber; exceptions are logged."""
        if not events or not self._subscribers:
            return
        subscribers = tuple(self._subscribers)  # a callback may (un)subscribe meanwhile
        for event in events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    logger.exception("an event subscriber failed on %r", event)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
