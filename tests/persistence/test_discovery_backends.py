"""Discovery, plays, ratings and author analytics behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import update

from persistence.discovery import Query, search_terms
from persistence.models import Play
from persistence.store import Store


async def _world(store: Store, world_id: str, owner: str, world_type: str = "nature", public: bool = True) -> None:
    await store.users.ensure_guest(owner)
    await store.worlds.create(id=world_id, owner_id=owner, prompt="p", world_type=world_type,
                              title="t", description="d", header={}, seed=0)
    if public:
        await store.worlds.set_visibility(world_id, "public")


async def _card(store: Store, exp_id: str, world_id: str, author: str, title: str, description: str = "a place",
                tags: list[str] | None = None, public: bool = True) -> None:
    await store.experiences.create(id=exp_id, world_id=world_id, author_id=author, title=title,
                                   description=description, tags=tags or [], is_public=public,
                                   thumbnail_url=None)


async def _ids(store: Store, **q: Any) -> list[str]:
    return [f.experience.id for f in await store.discovery.search(Query(**q))]


async def _gallery(store: Store) -> None:
    await _world(store, "w1", "alice")
    await _world(store, "w2", "bob", world_type="urban")
    await _world(store, "w3", "bob", public=False)
    await _card(store, "e1", "w1", "alice", "Fishing village by the lake", tags=["water", "calm"])
    await _card(store, "e2", "w2", "bob", "Neon city", description="a lake of lights in a village square",
                tags=["night"])
    await _card(store, "e3", "w3", "bob", "Secret lake village")  # its world is private
    await _card(store, "e4", "w1", "alice", "Hidden lake", public=False)  # its own flag says private


async def test_search_ranks_title_matches_first_and_hides_private_cards(store: Store) -> None:
    await _gallery(store)
    assert await _ids(store, terms=("lake", "village"), sort="relevance") == ["e1", "e2"]
    assert await _ids(store, terms=("vill",), sort="relevance") == ["e1", "e2"]  # prefixes match
    assert await _ids(store, terms=("villages",), sort="relevance") == ["e1", "e2"]  # stems match
    assert await _ids(store, terms=("calm",)) == ["e1"]  # tags are searched
    assert await _ids(store, terms=("nothing",)) == []


async def test_search_text_cannot_inject_query_syntax(store: Store) -> None:
    await _gallery(store)
    for text in ('lake" OR "x', "lake AND NOT village", "lake:* | !x", "title:lake", "NEAR(lake village)"):
        terms = tuple(search_terms(text))
        assert all(t.isalnum() or "_" in t for t in terms)
        await _ids(store, terms=terms, sort="relevance")  # runs without a syntax error


async def test_filters_by_tag_and_world_type(store: Store) -> None:
    await _gallery(store)
    assert await _ids(store, tags=("water",)) == ["e1"]
    assert await _ids(store, tags=("water", "calm")) == ["e1"]
    assert await _ids(store, tags=("water", "night")) == []
    assert await _ids(store, world_type="urban") == ["e2"]
    assert await _ids(store, world_type="urban", terms=("lake",)) == ["e2"]


async def test_the_author_sees_their_own_cards_public_or_not(store: Store) -> None:
    await _gallery(store)
    mine = {f.experience.id: f.shown for f in await store.discovery.search(Query(author_id="bob"))}
    assert mine == {"e2": True, "e3": False}
    assert sorted(await _ids(store, author_id="alice")) == ["e1", "e4"]


async def test_plays_count_once_per_window_and_never_for_the_author(store: Store) -> None:
    await _gallery(store)
    assert await store.discovery.record_play("w1", "carol", 60.0) == ["e1", "e4"]
    assert await store.discovery.record_play("w1", "carol", 60.0) == []  # within the window
    assert await store.discovery.record_play("w1", "alice", 60.0) == []  # the author
    assert await store.discovery.record_play("nope", "carol", 60.0) == []
    async with store.sessions() as s, s.begin():  # the window has passed
        await s.execute(update(Play).values(played_at=datetime.now(UTC) - timedelta(seconds=120)))
    assert await store.discovery.record_play("w1", "carol", 60.0) == ["e1", "e4"]
    await store.discovery.record_play("w2", "dave", 60.0)
    assert (await store.experiences.get("e1")).play_count == 2  # type: ignore[union-attr]
    assert await _ids(store, sort="plays") == ["e1", "e2"]


async def test_ratings_are_one_per_user_and_changeable(store: Store) -> None:
    await _gallery(store)
    assert await store.discovery.rate("e2", "carol", 5) == (5, 1)
    assert await store.discovery.rate("e2", "dave", 2) == (7, 2)
    assert await store.discovery.rate("e2", "dave", 4) == (9, 2)  # changed, not added
    assert await store.discovery.rating_of("e2", "dave") == 4
    assert await store.discovery.rating_of("e2", "erin") is None
    await store.discovery.rate("e1", "carol", 3)
    exp = await store.experiences.get("e2")
    assert exp is not None and (exp.rating, exp.rating_sum, exp.rating_count) == (4.5, 9, 2)
    assert await _ids(store, sort="rating") == ["e2", "e1"]


async def test_editing_a_card_updates_the_search_index(store: Store) -> None:
    await _gallery(store)
    await store.experiences.update("e1", title="Mountain retreat", tags=["snow"])
    assert await _ids(store, terms=("fishing",)) == []
    assert await _ids(store, terms=("mountain",)) == ["e1"]
    assert await _ids(store, terms=("snow",)) == ["e1"]
    await store.experiences.delete("e1")
    assert await _ids(store, terms=("mountain",)) == []


async def test_analytics_per_day_in_sql(store: Store) -> None:
    await _gallery(store)
    day1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    async with store.sessions() as s, s.begin():
        for user, at in (("carol", day1), ("dave", day1), ("carol", day1 + timedelta(hours=2)),
                         ("carol", day1 + timedelta(days=1))):
            s.add(Play(experience_id="e1", user_id=user, played_at=at))
    events = []
    for n, length in enumerate([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]):
        sid = f"s{n}"
        for offset, kind in ((0, "world_entered"), (length, "world_left")):
            events.append({"user_id": "carol", "client_event_id": f"{sid}-{kind}", "event_type": kind,
                           "session_id": sid, "world_id": "w1", "experience_id": None, "data": {},
                           "timestamp": day1 + timedelta(seconds=offset), "received_at": day1})
    events.append({"user_id": "dave", "client_event_id": "other", "event_type": "click", "session_id": "x",
                   "world_id": "w2", "experience_id": None, "data": {}, "timestamp": day1, "received_at": day1})
    await store.telemetry.insert(events)
    days, unique = await store.analytics.daily("e1", "w1", date(2026, 3, 1), date(2026, 3, 3))
    assert [d.day for d in days] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    first = days[0]
    assert (first.plays, first.unique_players, first.sessions) == (3, 2, 10)
    assert first.avg_session_s == 55.0 and first.p90_session_s == 90.0
    assert first.events == {"world_entered": 10, "world_left": 10}
    assert (days[1].plays, days[1].unique_players, days[1].sessions, days[1].events) == (1, 1, 0, {})
    assert days[2].avg_session_s is None and unique == 2
