"""Discovery over REST on both stores: search, edit/hide/republish, ratings, analytics, and
plays counted when a socket joins a published world (docs/discover.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.context import SERVICES
from tests.conftest import PG_URL, AppFactory, bearer, login, require_service
from tests.persistence.conftest import reset_postgres
from tests.server.test_openapi import conforms
from tests.session.peer import open_peer, rid

SEARCH = "/api/v1/discover/experiences"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def client(request: Any, make_client: AppFactory) -> TestClient:
    """A server on each store (overrides tests/conftest.py's SQLite-only `client`)."""
    if request.param == "sqlite":
        return await make_client(analytics_operators="oscar")
    require_service("PostgreSQL", 5432)
    await reset_postgres(PG_URL)
    return await make_client(database_url=PG_URL, analytics_operators="oscar")


async def _world(client: TestClient, world_id: str, owner: str, world_type: str = "fantasy") -> None:
    await client.app[SERVICES].store.worlds.create(
        id=world_id, owner_id=owner, prompt="p", world_type=world_type, title="t", description="d",
        header={}, seed=0)


async def _publish(client: TestClient, token: str, world_id: str, title: str, **changes: Any) -> dict[str, Any]:
    body = {"world_blueprint_id": world_id, "title": title, "description": "a place to visit", "tags": [],
            **changes}
    resp = await client.post("/api/v1/publish/", json=body, headers=bearer(token))
    assert resp.status == 200, await resp.text()
    return dict((await resp.json())["experience_card"])


@pytest.fixture
async def cards(client: TestClient) -> dict[str, Any]:
    """alice publishes two worlds (one hidden), bob one urban world."""
    alice, bob = await login(client, "alice"), await login(client, "bob")
    await _world(client, "w-a1", "alice")
    await _world(client, "w-a2", "alice")
    await _world(client, "w-b1", "bob", world_type="urban")
    a1 = await _publish(client, alice, "w-a1", "Fishing village by the lake", tags=["water", "calm"])
    a2 = await _publish(client, alice, "w-a2", "Hidden lake cave", is_public=False)
    b1 = await _publish(client, bob, "w-b1", "Neon city", description="lights over a lake village",
                        tags=["night"])
    return {"alice": alice, "bob": bob, "a1": a1["id"], "a2": a2["id"], "b1": b1["id"]}


async def _search(client: TestClient, query: str = "", token: str | None = None, status: int = 200) -> Any:
    resp = await client.get(f"{SEARCH}?{query}", headers=bearer(token) if token else {})
    body = await resp.json()
    assert resp.status == status, body
    conforms("GET", SEARCH, status, body)
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [c["id"] for c in body["experiences"]]


async def _error(resp: Any, status: int, code: str) -> dict[str, Any]:
    body = await resp.json()
    assert (resp.status, body["error"]) == (status, code), body
    return dict(body)


# -- search ---------------------------------------------------------------------------------------

async def test_search_ranks_matches_and_needs_no_token(client: TestClient, cards: dict[str, Any]) -> None:
    body = await _search(client, "q=lake%20village")
    assert _ids(body) == [cards["a1"], cards["b1"]] and body["next_offset"] is None
    first = body["experiences"][0]
    assert (first["world_type"], first["rating_count"], first["is_public"]) == ("fantasy", 0, True)
    assert first["thumbnail_url"] == "/api/v1/worlds/w-a1/map.png"
    assert _ids(await _search(client, "q=neon")) == [cards["b1"]]
    assert _ids(await _search(client, "q=zebra")) == []


async def test_search_filters_and_pages(client: TestClient, cards: dict[str, Any]) -> None:
    assert _ids(await _search(client, "tags=water,calm")) == [cards["a1"]]
    assert _ids(await _search(client, "world_type=urban")) == [cards["b1"]]
    assert _ids(await _search(client, "sort=newest")) == [cards["b1"], cards["a1"]]  # a2 is hidden
    page = await _search(client, "sort=newest&limit=1")
    assert _ids(page) == [cards["b1"]] and page["next_offset"] == 1
    assert _ids(await _search(client, "sort=newest&limit=1&offset=1")) == [cards["a1"]]


async def test_search_sorts_by_plays_and_rating(client: TestClient, cards: dict[str, Any]) -> None:
    store = client.app[SERVICES].store
    await store.discovery.record_play("w-a1", "carol", 60.0)
    assert _ids(await _search(client, "sort=plays")) == [cards["a1"], cards["b1"]]
    carol = await login(client, "carol")
    resp = await client.put(f"/api/v1/publish/experiences/{cards['b1']}/rating", json={"stars": 4},
                            headers=bearer(carol))
    assert resp.status == 200
    assert _ids(await _search(client, "sort=rating")) == [cards["b1"], cards["a1"]]


async def test_the_author_lists_their_own_cards_public_or_not(client: TestClient, cards: dict[str, Any]) -> None:
    mine = await _search(client, "mine=true&sort=newest", token=cards["alice"])
    assert {c["id"]: c["is_public"] for c in mine["experiences"]} == {cards["a1"]: True, cards["a2"]: False}
    assert cards["a2"] not in _ids(await _search(client, "", token=cards["bob"]))


@pytest.mark.parametrize("query, field", [
    ("sort=popular", "sort"), ("sort=relevance", "sort"), ("q=%21%21%21", "q"), ("world_type=moon", "world_type"),
    ("tags=" + ",".join("t" * 9), "tags"), ("limit=101", "limit"), ("offset=-1", "offset"), ("q=" + "a" * 201, "q")])
async def test_bad_search_queries_are_422(client: TestClient, query: str, field: str) -> None:
    body = await _search(client, query, status=422)
    assert field in body["details"]


async def test_search_with_a_bad_token_or_mine_without_one_is_401(client: TestClient) -> None:
    await _search(client, "", token="not-a-token", status=401)
    await _search(client, "mine=true", status=401)


# -- edit, hide, republish --------------------------------------------------------------------------

async def test_the_author_edits_hides_and_republishes_a_card(client: TestClient, cards: dict[str, Any]) -> None:
    url = f"/api/v1/publish/experiences/{cards['a1']}"
    resp = await client.patch(url, json={"title": "Mountain retreat", "tags": ["snow"]}, headers=bearer(cards["alice"]))
    body = await resp.json()
    assert resp.status == 200, body
    conforms("PATCH", "/api/v1/publish/experiences/{experience_id}", 200, body)
    assert (body["experience_card"]["title"], body["experience_card"]["tags"]) == ("Mountain retreat", ["snow"])
    assert _ids(await _search(client, "q=mountain")) == [cards["a1"]]
    assert _ids(await _search(client, "q=fishing")) == []
    resp = await client.patch(url, json={"is_public": False}, headers=bearer(cards["alice"]))
    assert resp.status == 200 and (await resp.json())["experience_card"]["is_public"] is False
    assert _ids(await _search(client, "q=mountain")) == []
    # Republishing the card of a world made private since makes the world public again.
    await client.app[SERVICES].store.worlds.set_visibility("w-a1", "private")
    resp = await client.patch(url, json={"is_public": True}, headers=bearer(cards["alice"]))
    body = await resp.json()
    assert resp.status == 200 and body["experience_card"]["is_public"] is True and "now public" in body["message"]
    assert _ids(await _search(client, "q=mountain")) == [cards["a1"]]


async def test_editing_someone_elses_or_an_unknown_card_fails(client: TestClient, cards: dict[str, Any]) -> None:
    url = f"/api/v1/publish/experiences/{cards['a1']}"
    await _error(await client.patch(url, json={"title": "Mine"}, headers=bearer(cards["bob"])), 403, "forbidden")
    await _error(await client.patch(f"/api/v1/publish/experiences/{cards['a2']}", json={"title": "x"},
                                    headers=bearer(cards["bob"])), 403, "forbidden")  # hidden from bob
    await _error(await client.patch("/api/v1/publish/experiences/nope", json={"title": "x"},
                                    headers=bearer(cards["alice"])), 404, "not_found")
    await _error(await client.patch(url, json={}, headers=bearer(cards["alice"])), 422, "validation_error")
    await _error(await client.patch(url, json={"title": ""}, headers=bearer(cards["alice"])), 422, "validation_error")
    await _error(await client.patch(url, json={"title": "x"}), 401, "unauthorized")


# -- ratings -----------------------------------------------------------------------------------------

async def test_ratings_are_one_per_user_and_changeable(client: TestClient, cards: dict[str, Any]) -> None:
    url = f"/api/v1/publish/experiences/{cards['a1']}/rating"
    carol, dave = await login(client, "carol"), await login(client, "dave")
    for token, stars in ((carol, 5), (dave, 2), (dave, 4)):
        resp = await client.put(url, json={"stars": stars}, headers=bearer(token))
        body = await resp.json()
        assert resp.status == 200, body
    conforms("PUT", "/api/v1/publish/experiences/{experience_id}/rating", 200, body)
    assert (body["rating"], body["rating_count"], body["your_rating"]) == (4.5, 2, 4)
    resp = await client.get(f"/api/v1/publish/experiences/{cards['a1']}", headers=bearer(carol))
    assert (await resp.json())["experience_card"]["rating"] == 4.5


@pytest.mark.parametrize("stars", [0, 6, "5", 4.5, None])
async def test_ratings_outside_1_to_5_are_422(client: TestClient, cards: dict[str, Any], stars: Any) -> None:
    carol = await login(client, "carol")
    resp = await client.put(f"/api/v1/publish/experiences/{cards['a1']}/rating", json={"stars": stars},
                            headers=bearer(carol))
    await _error(resp, 422, "validation_error")


async def test_rating_your_own_a_hidden_or_an_unknown_card_fails(client: TestClient, cards: dict[str, Any]) -> None:
    def url(exp: str) -> str:
        return f"/api/v1/publish/experiences/{exp}/rating"
    await _error(await client.put(url(cards["a1"]), json={"stars": 5}, headers=bearer(cards["alice"])),
                 403, "forbidden")
    await _error(await client.put(url(cards["a2"]), json={"stars": 5}, headers=bearer(cards["bob"])),
                 403, "forbidden")
    await _error(await client.put(url("nope"), json={"stars": 5}, headers=bearer(cards["bob"])), 404, "not_found")
    await _error(await client.put(url(cards["a1"]), json={"stars": 5}), 401, "unauthorized")


# -- analytics ---------------------------------------------------------------------------------------

async def test_the_author_and_operators_read_per_day_analytics(client: TestClient, cards: dict[str, Any]) -> None:
    carol = await login(client, "carol")
    await client.app[SERVICES].store.discovery.record_play("w-a1", "carol", 60.0)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    events = [{"event_type": kind, "session_id": "s1", "world_id": "w-a1", "event_id": kind,
               "timestamp": (today + timedelta(seconds=at)).isoformat()}
              for kind, at in (("world_entered", 0), ("object_clicked", 30), ("world_left", 90))]
    resp = await client.post("/api/v1/telemetry/batch", json=events, headers=bearer(carol))
    assert resp.status == 200, await resp.text()
    day = today.date().isoformat()
    url = f"/api/v1/publish/experiences/{cards['a1']}/analytics?from={day}&to={day}"
    for user in ("alice", "oscar"):
        resp = await client.get(url, headers=bearer(await login(client, user)))
        body = await resp.json()
        assert resp.status == 200, body
        conforms("GET", "/api/v1/publish/experiences/{experience_id}/analytics", 200, body)
        assert body["totals"] == {"plays": 1, "unique_players": 1, "sessions": 1,
                                  "events": {"world_entered": 1, "object_clicked": 1, "world_left": 1}}
        assert body["days"][0]["avg_session_s"] == body["days"][0]["p90_session_s"] == 90.0
    resp = await client.get(f"/api/v1/publish/experiences/{cards['a1']}/analytics", headers=bearer(cards["alice"]))
    assert len((await resp.json())["days"]) == 30  # the last 30 days by default


async def test_analytics_refuse_others_unknown_cards_and_bad_ranges(client: TestClient, cards: dict[str, Any]) -> None:
    url = f"/api/v1/publish/experiences/{cards['a1']}/analytics"
    await _error(await client.get(url, headers=bearer(cards["bob"])), 403, "forbidden")
    await _error(await client.get("/api/v1/publish/experiences/nope/analytics", headers=bearer(cards["alice"])),
                 404, "not_found")
    for query in ("from=2026-13-01", "from=2026-03-02&to=2026-03-01", "from=2020-01-01&to=2026-01-01"):
        await _error(await client.get(f"{url}?{query}", headers=bearer(cards["alice"])), 422, "validation_error")
    await _error(await client.get(url), 401, "unauthorized")


# -- plays from socket joins -------------------------------------------------------------------------

async def _join(client: TestClient, user: str, world_id: str) -> None:
    peer = await open_peer(client, user)
    try:
        r = rid()
        await peer.send(type="join", rid=r, world_id=world_id)
        assert (await peer.until(lambda f: f.get("rid") == r and f.get("type") != "snapshot"))["type"] == "joined"
        # The session handles one message at a time: the leave's answer comes after the
        # join's play was counted.
        left = await peer.request("leave", world_id=world_id)
        assert left["type"] == "left", left
    finally:
        await peer.ws.close()


async def test_joining_a_published_world_counts_one_play_per_window(client: TestClient,
                                                                    cards: dict[str, Any]) -> None:
    await _join(client, "carol", "w-a1")
    await _join(client, "carol", "w-a1")  # within play_window_s
    await _join(client, "alice", "w-a1")  # the author
    await _join(client, "dave", "w-a1")
    resp = await client.get(f"/api/v1/publish/experiences/{cards['a1']}", headers=bearer(cards["bob"]))
    assert (await resp.json())["experience_card"]["play_count"] == 2


# -- plays from `world_entered` telemetry ---------------------------------------------------------

def _entered(world_id: str, event_id: str) -> dict[str, Any]:
    return {"event_type": "world_entered", "world_id": world_id, "event_id": event_id, "data": {"action": "enter"}}


async def _play_count(client: TestClient, token: str, card: str) -> int:
    resp = await client.get(f"/api/v1/publish/experiences/{card}", headers=bearer(token))
    return int((await resp.json())["experience_card"]["play_count"])


async def test_a_world_entered_event_over_rest_counts_one_play_per_window(client: TestClient,
                                                                          cards: dict[str, Any]) -> None:
    carol, dave = await login(client, "carol"), await login(client, "dave")
    for n in range(2):  # the predecessor's single-event route, twice within play_window_s
        resp = await client.post("/api/v1/telemetry/", json=_entered("w-a1", f"c{n}"), headers=bearer(carol))
        assert resp.status == 200, await resp.text()
    resp = await client.post("/api/v1/telemetry/batch", headers=bearer(dave),
                             json=[_entered("w-a1", "d1"), _entered("w-a1", "d2"), _entered("w-b1", "d3"),
                                   {"event_type": "world_left", "world_id": "w-b1"}])
    assert resp.status == 200, await resp.text()
    assert await _play_count(client, cards["bob"], cards["a1"]) == 2  # carol once, dave once
    assert await _play_count(client, cards["alice"], cards["b1"]) == 1  # dave's


async def test_a_world_entered_event_claims_no_play_of_a_world_its_sender_cannot_open(
        client: TestClient, cards: dict[str, Any]) -> None:
    carol = await login(client, "carol")
    for world in ("w-a2", "w-nowhere", ""):  # alice's hidden world, no world, an empty id
        resp = await client.post("/api/v1/telemetry/", json=_entered(world, f"e-{world}"), headers=bearer(carol))
        assert resp.status == 200, await resp.text()  # stored like any event
    resp = await client.post("/api/v1/telemetry/", json=_entered("w-a1", "own"), headers=bearer(cards["alice"]))
    assert resp.status == 200
    assert await _play_count(client, cards["alice"], cards["a2"]) == 0
    assert await _play_count(client, cards["bob"], cards["a1"]) == 0  # the author's own entry is no play
    assert await client.app[SERVICES].store.telemetry.count("carol") == 3


async def test_a_world_entered_event_on_the_socket_counts_a_play_before_its_ack(client: TestClient,
                                                                               cards: dict[str, Any]) -> None:
    peer = await open_peer(client, "carol")
    try:
        events = [{"id": f"s{n}", "type": "world_entered", "ts": 1_790_000_000.0 + n, "world_id": world}
                  for n, world in enumerate(["w-a1", "w-a1", "w-a2"])]
        ack = await peer.request("telemetry", events=events)
        assert ack["type"] == "telemetry.ack" and sorted(ack["ids"]) == ["s0", "s1", "s2"], ack
    finally:
        await peer.ws.close()
    assert await _play_count(client, cards["bob"], cards["a1"]) == 1
    assert await _play_count(client, cards["alice"], cards["a2"]) == 0
