"""Discovery: search and sorted listings of experience cards, plays and ratings.

Each store searches with its own full-text index (migration 0004): FTS5 `experiences_fts` on
SQLite (ranked by bm25), a `tsvector` column with a GIN index on PostgreSQL (ranked by
ts_rank). Sorted listings read the aggregate columns kept on the card's row (`play_count`,
`rating`, `rating_count`), each with its own index, so a page costs the same with 100k cards
as with ten (docs/discover.md §4, bench/listing.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    column,
    exists,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from .clock import utcnow
from .db import Repo
from .models import Experience, Play, Rating, World
from .statements import rows, single

SORTS = ("relevance", "newest", "plays", "rating")
MAX_TERMS = 8  # words of a search text that are used; the rest are ignored
_WORD = re.compile(r"\w+")
_Page = Select[Experience, bool, str]  # a card, whether it is shown, its world's type
_FTS = table("experiences_fts", column("rowid"))


def search_terms(text_query: str) -> list[str]:
    """The words of a search text, lower-cased: only letters, digits and underscores reach the
    full-text query syntax of either store, so no input can be read as an operator."""
    return _WORD.findall(text_query.lower())[:MAX_TERMS]


@dataclass(frozen=True, slots=True)
class Query:
    """One discovery request. `author_id` set: that author's own cards, public or not;
    otherwise only cards shown to everyone (their flag and their world's visibility)."""

    terms: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    world_type: str | None = None
    sort: str = "newest"
    limit: int = 20
    offset: int = 0
    author_id: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    experience: Experience
    shown: bool  # public now: its own flag and its world's visibility
    world_type: str


def _world_public() -> ColumnElement[bool]:
    return exists().where(World.id == Experience.world_id, World.visibility == "public")


def shown() -> ColumnElement[bool]:
    """A card is shown to everyone: its own flag and its world's visibility say public.

    The world is read in correlated subqueries rather than joined, so `experiences` is the only
    table the page scans: in the order of the sort's index, stopping after one page (a join let
    SQLite's planner scan `worlds` first and sort every card)."""
    return and_(Experience.is_public.is_(True), _world_public())


def _world_type() -> Any:
    return select(World.world_type).where(World.id == Experience.world_id).scalar_subquery()


# The cards of a world that a user did not author: asked on every join (record_play).
_CARDS_OF_WORLD = select(Experience.id).where(Experience.world_id == bindparam("world_id"),
                                              Experience.author_id != bindparam("user_id"))


class DiscoveryRepo(Repo):

    def __init__(self, *args: Any, dialect: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sqlite = dialect == "sqlite"

    # -- search and listings -----------------------------------------------------------------
    async def search(self, q: Query) -> list[Found]:
        """One page of cards for `q`; `limit` rows at most, in the order its sort names."""
        stmt: _Page = select(Experience, shown(), _world_type())
        stmt = stmt.where(Experience.author_id == q.author_id) if q.author_id is not None \
            else stmt.where(shown())
        if q.world_type is not None:
            stmt = stmt.where(exists().where(World.id == Experience.world_id, World.world_type == q.world_type))
        for tag in q.tags:
            stmt = stmt.where(self._has_tag(tag))
        rank: ColumnElement[Any] | None = None
        if q.terms:
            stmt, rank = self._match(stmt, q.terms)
        stmt = stmt.order_by(*self._order(q.sort, rank)).limit(q.limit).offset(q.offset)
        async with self._sessions() as s:
            rows = (await s.execute(stmt)).all()
        return [Found(exp, bool(shown), world_type) for exp, shown, world_type in rows]

    def _has_tag(self, tag: str) -> ColumnElement[bool]:
        if self._sqlite:
            each = func.json_each(Experience.tags).table_valued("value")
            return exists(select(1).select_from(each).where(each.c.value == tag))
        return cast(Experience.tags, JSONB).contains([tag])

    def _match(self, stmt: _Page, terms: tuple[str, ...]) -> tuple[_Page, ColumnElement[Any]]:
        """Restrict to cards matching every term (each as a prefix) and give the rank, where a
        smaller value is a better match on both stores."""
        if self._sqlite:
            match = " ".join(f'"{t}"*' for t in terms)
            stmt = (stmt.join(_FTS, _FTS.c.rowid == literal_column("experiences.rowid"))
                    .where(text("experiences_fts MATCH :fts_query").bindparams(fts_query=match)))
            # bm25 is negative, better matches lower; title weighs most, then tags.
            return stmt, literal_column("bm25(experiences_fts, 10.0, 1.0, 5.0)")
        tsquery = func.to_tsquery(literal_column("'english'::regconfig"), " & ".join(f"{t}:*" for t in terms))
        search: ColumnElement[Any] = literal_column("experiences.search")
        return stmt.where(search.op("@@")(tsquery)), -func.ts_rank(search, tsquery)

    @staticmethod
    def _order(sort: str, rank: ColumnElement[Any] | None) -> list[Any]:
        newest: list[Any] = [Experience.created_at.desc(), Experience.id.desc()]
        if sort == "plays":
            return [Experience.play_count.desc(), Experience.id.desc()]
        if sort == "rating":
            return [Experience.rating.desc(), Experience.rating_count.desc(), Experience.id.desc()]
        if sort == "relevance" and rank is not None:
            return [rank.asc(), *newest]
        return newest

    # -- plays -------------------------------------------------------------------------------
    async def record_play(self, world_id: str, user_id: str, window_s: float) -> list[str]:
        """Count `user_id` entering `world_id` as a play of each card of that world it did not
        author, unless it was counted within the last `window_s` seconds. The ids counted."""
        # Every join asks (most joined worlds have no card: no write then): one statement, one
        # hop on a SQLite file (db.Repo._read).
        cards = [row[0] for row in await self._read(
            lambda: single(rows(_CARDS_OF_WORLD, {"world_id": world_id, "user_id": user_id})))]
        if not cards:
            return []
        now = utcnow()
        counted = []
        async with self._tx() as s:
            # Row locks (PostgreSQL) make two simultaneous joins of one user count once;
            # SQLite's writers are serialised already.
            cards = list(await s.scalars(select(Experience.id).where(Experience.id.in_(cards))
                                         .order_by(Experience.id).with_for_update()))
            for exp_id in cards:
                recent = await s.scalar(select(Play.id).where(
                    Play.experience_id == exp_id, Play.user_id == user_id,
                    Play.played_at > now - timedelta(seconds=window_s)).limit(1))
                if recent is not None:
                    continue
                await s.execute(insert(Play).values(experience_id=exp_id, user_id=user_id, played_at=now))
                await s.execute(update(Experience).where(Experience.id == exp_id)
                                .values(play_count=Experience.play_count + 1))
                counted.append(exp_id)
        return counted

    # -- ratings -----------------------------------------------------------------------------
    async def rate(self, experience_id: str, user_id: str, stars: int) -> tuple[int, int]:
        """Set `user_id`'s stars for the card (replacing earlier ones) and keep the card's
        aggregates in step, in one transaction. (rating_sum, rating_count) after it."""
        now = utcnow()
        async with self._tx() as s:
            row = (await s.execute(select(Experience.rating_sum, Experience.rating_count)
                                   .where(Experience.id == experience_id).with_for_update())).one()
            old = await s.get(Rating, (experience_id, user_id))
            if old is None:
                s.add(Rating(experience_id=experience_id, user_id=user_id, stars=stars,
                             created_at=now, updated_at=now))
                total, count = row.rating_sum + stars, row.rating_count + 1
            else:
                total, count = row.rating_sum - old.stars + stars, row.rating_count
                old.stars, old.updated_at = stars, now
            await s.execute(update(Experience).where(Experience.id == experience_id)
                            .values(rating_sum=total, rating_count=count, rating=total / count))
        return total, count

    async def rating_of(self, experience_id: str, user_id: str) -> int | None:
        async with self._sessions() as s:
            found = await s.get(Rating, (experience_id, user_id))
        return None if found is None else found.stars
