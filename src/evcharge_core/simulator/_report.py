"""What the simulated stations saw: per-station counters and the run's :class:`Report`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

__all__ = ["ActionCounts", "Report", "StationStats", "answer_statuses"]


def answer_statuses(payload: Mapping[str, Any]) -> list[str]:
    """The statuses a station's answer carries: its ``status``, or the ``attributeStatus``
    of each item of a 2.0.1 GetVariables / SetVariables answer (empty: none)."""
    status = payload.get("status")
    if isinstance(status, str):
        return [status]
    for key in ("getVariableResult", "setVariableResult"):
        items = payload.get(key)
        if isinstance(items, list):
            return [str(item.get("attributeStatus")) for item in items if isinstance(item, dict)]
    return []


@attrs.define
class ActionCounts:
    """Counters for one OCPP action.

    Station-initiated CALLs: ``sent``, answered by a CALLRESULT (``ok``), a CALLERROR
    (``call_errors``), or not in time (``timeouts``). CSMS-initiated CALLs: ``received``,
    answered with a CALLRESULT (``answered``) or a CALLERROR (``errors_sent``).
    """

    sent: int = 0
    ok: int = 0
    call_errors: int = 0
    timeouts: int = 0
    received: int = 0
    answered: int = 0
    errors_sent: int = 0

    def add(self, other: ActionCounts) -> None:
        """Add another's counts to these."""
        for field in attrs.fields(ActionCounts):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def to_dict(self) -> dict[str, int]:
        """The counters by name."""
        return attrs.asdict(self)


@attrs.define
class StationStats:
    """Everything one simulated station counted during a run."""

    station_id: str
    actions: dict[str, ActionCounts] = attrs.field(factory=dict)
    boots: Counter[str] = attrs.field(factory=Counter)
    refusals: Counter[str] = attrs.field(factory=Counter)
    call_error_codes: Counter[str] = attrs.field(factory=Counter)
    close_codes: Counter[int] = attrs.field(factory=Counter)
    connections: int = 0
    disconnections: int = 0
    reboots: int = 0
    transactions_started: int = 0
    transactions_stopped: int = 0
    id_tags_rejected: int = 0
    invalid_frames: int = 0
    invalid_responses: int = 0
    subprotocol_missing: int = 0
    #: Statuses of the answers sent to the CSMS's CALLs, by action (see
    #: :func:`answer_statuses`).
    answers: dict[str, Counter[str]] = attrs.field(factory=dict)
    #: The charging profiles installed when the station stopped.
    charging_profiles: list[dict[str, Any]] = attrs.field(factory=list)

    def count_answer(self, action: str, statuses: Iterable[str]) -> None:
        """Count the statuses of an answer sent to the CSMS."""
        statuses = list(statuses)
        if statuses:
            self.answers.setdefault(action, Counter()).update(statuses)

    def action(self, name: str) -> ActionCounts:
        """The counters of one action (created on first use)."""
        counts = self.actions.get(name)
        if counts is None:
            counts = self.actions[name] = ActionCounts()
        return counts

    @property
    def ever_connected(self) -> bool:
        """Whether a websocket connection ever opened."""
        return self.connections > 0

    @property
    def ever_accepted(self) -> bool:
        """Whether a BootNotification was ever Accepted."""
        return self.boots["Accepted"] > 0


_BOOT_STATUSES = ("Accepted", "Pending", "Rejected")
_COLUMNS = (
    ("Action", None),
    ("sent", "sent"),
    ("ok", "ok"),
    ("CallError", "call_errors"),
    ("timeout", "timeouts"),
    ("received", "received"),
    ("answered", "answered"),
    ("CallError sent", "errors_sent"),
)


@attrs.define
class Report:
    """The outcome of a simulation run: every station's stats, summed for reading.

    :meth:`to_dict` is the ``--json`` output, :meth:`render` the table printed at the end.
    """

    url: str
    duration: float
    stations: list[StationStats]
    protocol: str = "ocpp1.6"

    @classmethod
    def collect(
        cls,
        url: str,
        duration: float,
        stations: Iterable[StationStats],
        *,
        protocol: str = "ocpp1.6",
    ) -> Report:
        """A report over these stations' stats."""
        return cls(url=url, duration=duration, stations=list(stations), protocol=protocol)

    def _sum(self, name: str) -> int:
        return sum(int(getattr(stats, name)) for stats in self.stations)

    def _counter(self, name: str) -> Counter[Any]:
        total: Counter[Any] = Counter()
        for stats in self.stations:
            total.update(getattr(stats, name))
        return total

    @property
    def stations_connected(self) -> int:
        """How many stations ever opened a connection."""
        return sum(stats.ever_connected for stats in self.stations)

    @property
    def stations_accepted(self) -> int:
        """How many stations ever had a BootNotification Accepted."""
        return sum(stats.ever_accepted for stats in self.stations)

    @property
    def exit_status(self) -> int:
        """0 if any station connected, else 1 (the command's exit status)."""
        return 0 if self.stations_connected else 1

    def actions(self) -> dict[str, ActionCounts]:
        """Per-action counters summed over the stations, by action name."""
        total: dict[str, ActionCounts] = {}
        for stats in self.stations:
            for name, counts in stats.actions.items():
                total.setdefault(name, ActionCounts()).add(counts)
        return dict(sorted(total.items()))

    def answers(self) -> dict[str, dict[str, int]]:
        """Statuses of the answers the stations sent, by action, summed over the stations."""
        total: dict[str, Counter[str]] = {}
        for stats in self.stations:
            for action, counter in stats.answers.items():
                total.setdefault(action, Counter()).update(counter)
        return {action: dict(sorted(total[action].items())) for action in sorted(total)}

    def charging_profiles(self) -> dict[str, list[dict[str, Any]]]:
        """The charging profiles installed at the end, by station (stations with any)."""
        return {s.station_id: s.charging_profiles for s in self.stations if s.charging_profiles}

    @property
    def calls_answered(self) -> int:
        """CSMS-initiated CALLs the stations answered (results and errors)."""
        return sum(c.answered + c.errors_sent for c in self.actions().values())

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the ``--json`` output)."""
        boots = self._counter("boots")
        return {
            "url": self.url,
            "protocol": self.protocol,
            "duration": round(self.duration, 3),
            "stations": len(self.stations),
            "stations_connected": self.stations_connected,
            "stations_accepted": self.stations_accepted,
            "connections": self._sum("connections"),
            "disconnections": self._sum("disconnections"),
            "close_codes": {
                str(code): n for code, n in sorted(self._counter("close_codes").items())
            },
            "reboots": self._sum("reboots"),
            "refusals": dict(sorted(self._counter("refusals").items())),
            "boots": {status: boots[status] for status in _BOOT_STATUSES},
            "transactions": {
                "started": self._sum("transactions_started"),
                "stopped": self._sum("transactions_stopped"),
                "id_tags_rejected": self._sum("id_tags_rejected"),
            },
            "calls_answered": self.calls_answered,
            "answers": self.answers(),
            "charging_profiles": self.charging_profiles(),
            "call_errors_received": dict(sorted(self._counter("call_error_codes").items())),
            "invalid_frames": self._sum("invalid_frames"),
            "invalid_responses": self._sum("invalid_responses"),
            "subprotocol_missing": self._sum("subprotocol_missing"),
            "actions": {name: counts.to_dict() for name, counts in self.actions().items()},
        }

    def render(self) -> str:
        """The report as text: a summary, then a table of messages per action."""
        data = self.to_dict()
        lines = [
            f"Simulated {data['stations']} station(s) against {self.url} for {self.duration:.1f} s",
            f"  protocol: {self.protocol}",
            f"  stations connected: {data['stations_connected']}/{data['stations']}, "
            f"accepted: {data['stations_accepted']}/{data['stations']}",
            f"  connections: {data['connections']} opened, {data['disconnections']} closed by "
            f"the CSMS or the network, {data['reboots']} reboot(s)",
            "  boots: " + ", ".join(f"{n} {status}" for status, n in data["boots"].items()),
            f"  transactions: {data['transactions']['started']} started, "
            f"{data['transactions']['stopped']} stopped, "
            f"{data['transactions']['id_tags_rejected']} id tag(s) rejected",
            f"  CSMS calls answered: {data['calls_answered']}",
        ]
        if data["answers"]:
            lines.append("  answers to the CSMS's calls:")
            lines.extend(
                f"    {action}: " + ", ".join(f"{n} {status}" for status, n in statuses.items())
                for action, statuses in data["answers"].items()
            )
        profiles = data["charging_profiles"]
        if profiles:
            purposes = Counter(p["purpose"] for items in profiles.values() for p in items)
            lines.append(
                f"  charging profiles installed at the end: {sum(purposes.values())} on "
                f"{len(profiles)} station(s) ("
                + ", ".join(f"{n} {purpose}" for purpose, n in sorted(purposes.items()))
                + ")"
            )
        if data["refusals"]:
            lines.append("  connection refusals:")
            lines.extend(f"    {n:>6}  {reason}" for reason, n in data["refusals"].items())
        if data["call_errors_received"]:
            lines.append(
                "  CallErrors received: "
                + ", ".join(f"{n} {code}" for code, n in data["call_errors_received"].items())
            )
        problems = {
            "invalid frames from the CSMS": data["invalid_frames"],
            "invalid answers from the CSMS": data["invalid_responses"],
            "connections without the ocpp subprotocol": data["subprotocol_missing"],
        }
        lines.extend(f"  {what}: {n}" for what, n in problems.items() if n)
        lines.append("")
        lines.extend(_table(self.actions()))
        return "\n".join(lines)


def _table(actions: dict[str, ActionCounts]) -> list[str]:
    rows: list[Sequence[str]] = [[title for title, _ in _COLUMNS]]
    total = ActionCounts()
    for name, counts in actions.items():
        total.add(counts)
        rows.append([name, *(str(getattr(counts, field)) for _, field in _COLUMNS[1:] if field)])
    rows.append(["total", *(str(getattr(total, field)) for _, field in _COLUMNS[1:] if field)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0 or index == len(rows) - 2:
            lines.append("  ".join("-" * width for width in widths))
    return lines
