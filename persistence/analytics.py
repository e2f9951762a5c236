"""Author analytics of one experience, per UTC day, computed by the database.

Three grouped queries, each returning at most a row per day (or per day and event type):
plays and unique players from `plays`; sessions (a telemetry `session_id`'s first to last
event of this card's world or card) with their average and p90 length; events by type.
Nothing loads the events themselves into Python (docs/discover.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, distinct, func, or_, select

from .db import Repo
from .models import Play, TelemetryEvent


@dataclass(slots=True)
class Day:
    day: str  # YYYY-MM-DD (UTC)
    plays: int = 0
    unique_players: int = 0
    sessions: int = 0
    avg_session_s: float | None = None
    p90_session_s: float | None = None
    events: dict[str, int] = field(default_factory=dict)


class AnalyticsRepo(Repo):

    def __init__(self, *args: Any, dialect: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sqlite = dialect == "sqlite"

    def _day(self, col: Any) -> ColumnElement[str]:
        """The UTC day of a stored time as YYYY-MM-DD. SQLite stores naive UTC text."""
        if self._sqlite:
            return func.substr(col, 1, 10)
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")

    def _seconds(self, first: Any, last: Any) -> ColumnElement[float]:
        if self._sqlite:
            # julianday is a double of days: exact to about 50 µs now, so milliseconds are kept.
            return cast(func.round((func.julianday(last) - func.julianday(first)) * 86400.0, 3), Float)
        return cast(func.extract("epoch", last - first), Float)

    async def daily(self, experience_id: str, world_id: str, start: date, end: date) -> tuple[list[Day], int]:
        """One `Day` per day from `start` to `end` (inclusive), and the unique players of the
        whole range (not the sum of the days')."""
        since = datetime.combine(start, time.min, UTC)
        until = datetime.combine(end + timedelta(days=1), time.min, UTC)
        days = {(start + timedelta(days=i)).isoformat(): Day((start + timedelta(days=i)).isoformat())
                for i in range((end - start).days + 1)}
        in_range = (Play.experience_id == experience_id, Play.played_at >= since, Play.played_at < until)
        day = self._day(Play.played_at).label("day")
        plays = select(day, func.count(), func.count(distinct(Play.user_id))).where(*in_range).group_by(day)
        unique = select(func.count(distinct(Play.user_id))).where(*in_range)
        ev = TelemetryEvent
        of_card = (or_(ev.world_id == world_id, ev.experience_id == experience_id),
                   ev.timestamp >= since, ev.timestamp < until)
        eday = self._day(ev.timestamp).label("day")
        events = select(eday, ev.event_type, func.count()).where(*of_card).group_by(eday, ev.event_type)
        async with self._sessions() as s:
            for d, count, players in (await s.execute(plays)).all():
                days[d].plays, days[d].unique_players = int(count), int(players)
            total_unique = int(await s.scalar(unique) or 0)
            for d, kind, count in (await s.execute(events)).all():
                days[d].events[kind] = int(count)
            for d, sessions, avg, p90 in (await s.execute(self._sessions_query(of_card))).all():
                days[d].sessions, days[d].avg_session_s, days[d].p90_session_s = int(sessions), float(avg), float(p90)
        return list(days.values()), total_unique

    def _sessions_query(self, of_card: tuple[ColumnElement[bool], ...]) -> Any:
        """Per day of a session's first event: how many sessions, their mean length and their
        p90 by nearest rank (the smallest length whose rank r satisfies 10·r ≥ 9·n, i.e.
        r = ⌈0.9·n⌉; integer arithmetic, the same on both stores)."""
        ev = TelemetryEvent
        first, last = func.min(ev.timestamp), func.max(ev.timestamp)
        sessions = (select(self._day(first).label("day"), self._seconds(first, last).label("length"))
                    .where(*of_card, ev.session_id.is_not(None)).group_by(ev.session_id).subquery())
        ranked = select(
            sessions.c.day, sessions.c.length,
            func.row_number().over(partition_by=sessions.c.day, order_by=sessions.c.length).label("r"),
            func.count().over(partition_by=sessions.c.day).label("n")).subquery()
        p90 = func.min(case((ranked.c.r * 10 >= ranked.c.n * 9, ranked.c.length)))
        return (select(ranked.c.day, func.count(), func.avg(ranked.c.length), p90)
                .group_by(ranked.c.day))
