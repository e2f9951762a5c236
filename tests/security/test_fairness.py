"""Per-user fairness (issue 15, finding 4): prompt budgets and concurrent generations are
counted per user over all of the user's sockets and REST, a reconnect resets nothing, refusals
carry the request's rid, and one user's queued generations cannot starve another user's.

Fairness is shown by ordering facts, never by timing: the order in which the server created
the worlds (a world's row is written when its plan is done, before its first chunk).
"""

from __future__ import annotations

from protocol.codes import ErrorCode
from server.context import SERVICES
from tests.conftest import TIMEOUT, AppFactory, bearer, login
from tests.security.fair_util import abort, eventually, open_peer, send_prompt, stalled_socket, world_rows
from tests.session.peer import rid

PROMPT = "a misty pine forest with a ruined tower"
BIG = 20_000


async def _generate_small(peer: object, n: int) -> None:
    for _ in range(n):
        _, _, done = await peer.generate(PROMPT, max_instances=10, room=False)  # type: ignore[attr-defined]
        assert done["status"] == "complete", done


async def _count_worlds(client: object, n: int) -> bool:
    return len(await world_rows(client)) >= n  # type: ignore[arg-type]


async def test_the_prompt_bucket_holds_what_welcome_advertises(make_client: AppFactory) -> None:
    # Issue 14: the bucket held 5 while welcome.limits advertised prompts_per_min; now a user
    # may send exactly prompts_per_min prompts at once, and the next one is refused with its rid.
    client = await make_client(prompts_per_min=8)
    peer = await open_peer(client, "alice")
    assert peer.welcome["limits"]["prompts_per_min"] == 8
    await _generate_small(peer, 8)
    refused = await peer.request("prompt", prompt=PROMPT, max_instances=10)
    assert refused["type"] == "error" and refused["code"] == ErrorCode.RATE_LIMITED, refused
    assert refused["retry_after_s"] > 0


async def test_prompt_budget_is_per_user_across_reconnects_and_rest(make_client: AppFactory) -> None:
    client = await make_client(prompts_per_min=3)
    first = await open_peer(client, "alice")
    await _generate_small(first, 3)
    await first.ws.close()
    # A new socket of the same user starts with the budget the old one left: nothing.
    second = await open_peer(client, "alice")
    refused = await second.request("prompt", prompt=PROMPT, max_instances=10)
    assert refused["type"] == "error" and refused["code"] == ErrorCode.RATE_LIMITED, refused
    # REST prompt2world spends the same budget.
    token = await login(client, "alice")
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token), json={"prompt": PROMPT})
    assert resp.status == 429, await resp.text()
    assert (await resp.json())["error"] == "rate_limited"
    assert int(resp.headers["Retry-After"]) >= 1
    # Another user is not affected.
    bob = await open_peer(client, "bob")
    await _generate_small(bob, 1)


async def test_rest_prompts_spend_the_socket_budget(make_client: AppFactory) -> None:
    client = await make_client(prompts_per_min=2)
    token = await login(client, "alice")
    for _ in range(2):
        resp = await client.post("/api/v1/prompt2world/", headers=bearer(token),
                                 json={"prompt": PROMPT, "max_instances": 10})
        assert resp.status == 200, await resp.text()
    peer = await open_peer(client, "alice")
    refused = await peer.request("prompt", prompt=PROMPT, max_instances=10)
    assert refused["code"] == ErrorCode.RATE_LIMITED, refused


async def test_a_rate_limited_frame_is_answered_with_its_rid(make_client: AppFactory) -> None:
    # Issue 14: the frame budget's refusal came without the rid, so the request never got a
    # final frame. Burst 2, no refill to speak of: the third and fourth pings are refused.
    client = await make_client(msgs_burst=2, msgs_per_s=0.001)
    peer = await open_peer(client, "alice")
    rids = [rid() for _ in range(4)]
    for r in rids:
        await peer.send(type="ping", rid=r)
    replies = [await peer.until(lambda f, r=r: f.get("rid") == r) for r in rids]
    assert [f["type"] for f in replies] == ["pong", "pong", "error", "error"], replies
    assert all(f["code"] == ErrorCode.RATE_LIMITED for f in replies[2:])


async def test_concurrent_generations_are_counted_per_user(make_client: AppFactory) -> None:
    # One generation held running by a reader that stopped reading (its send queue stays
    # above the generation's high-water mark); a second socket of the same user is refused.
    client = await make_client(max_generations_per_user=1, send_queue_bytes=65_536,
                               generation_stall_timeout_s=TIMEOUT * 6)
    ws, session = await stalled_socket(client, "alice")
    await send_prompt(ws, PROMPT, max_instances=BIG, room=False)
    await eventually(lambda: session.generations, "the generation runs")
    other = await open_peer(client, "alice")
    refused = await other.request("prompt", prompt=PROMPT, max_instances=10)
    assert refused["type"] == "error" and refused["code"] == ErrorCode.TOO_MANY_GENERATIONS, refused
    token = await login(client, "alice")
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token), json={"prompt": PROMPT})
    assert resp.status == 429 and (await resp.json())["error"] == "too_many_generations"
    # Bob has his own budget.
    bob = await open_peer(client, "bob")
    await _generate_small(bob, 1)
    # The slot is the user's until the generation ends, whichever socket ran it.
    abort(ws)
    quotas = client.app[SERVICES].quotas
    await eventually(lambda: quotas.running("alice") == 0, "the stalled generation ended")
    await _generate_small(other, 1)


async def test_one_users_queued_generations_do_not_starve_another_user(make_client: AppFactory) -> None:
    # The flooder queues ten 20,000-instance generations on one socket before the victim asks
    # for a small world. First come, first served put the victim's plan behind all ten; with a
    # queue per user served in turn, it runs at the next free worker, so most of the flooder's
    # worlds are created after the victim's.
    flood = 10
    client = await make_client(max_generations=flood, max_generations_per_user=flood, prompts_per_min=100,
                               max_pending_instances_per_user=flood * BIG)
    flooder = await open_peer(client, "flooder")
    victim = await open_peer(client, "victim")
    for _ in range(flood):
        await flooder.send(type="prompt", rid=rid(), prompt=PROMPT, max_instances=BIG, room=False)
    pong = await flooder.request("ping")  # every prompt before it has been taken in
    assert pong["type"] == "pong"
    _, chunks, done = await victim.generate(PROMPT, max_instances=10, room=False)
    assert done["status"] == "complete" and chunks
    # Every flood world's row exists once its plan is done, whether or not the flooder reads.
    await eventually(lambda: _count_worlds(client, flood + 1), "every world was created")
    order = [owner for _, owner, _ in await world_rows(client)]
    assert order.count("flooder") == flood and order.count("victim") == 1
    after = len(order) - 1 - order.index("victim")
    assert after >= flood // 2, f"victim's world came after {flood - after} of the flooder's {flood}: {order}"
    print("flooder worlds created after the victim's:", after)


async def test_turns_go_round_robin_and_one_user_keeps_a_slot_free_for_others() -> None:
    # The scheduler itself, without sockets: the order in which waiting steps get their turn.
    import asyncio

    from server.scheduler import FairTurns

    turns = FairTurns(2, per_user=1)
    order: list[str] = []
    release = asyncio.Event()

    async def step(user: str) -> None:
        async with turns.turn(user):
            order.append(user)
            await release.wait()

    tasks = [asyncio.ensure_future(step(u)) for u in ("a", "a", "a", "b", "b", "c")]
    await asyncio.sleep(0)
    assert order == ["a", "b"]  # a holds one slot at most; b takes the other at once
    late = asyncio.ensure_future(step("d"))
    cancelled = asyncio.ensure_future(step("c"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.gather(*tasks, late)
    # Then one step per user in the order the users began to wait (a, b, c, d), then a again:
    # a's third step waits behind c and d although a queued it first; c's cancelled step is skipped.
    assert order == ["a", "b", "a", "b", "c", "d", "a"], order
    assert turns.waiting == {}


async def test_a_generations_first_step_goes_before_the_later_steps_of_worlds_on_their_way() -> None:
    # Time to first instance: a new prompt's first step (its first phase and first chunk) waits
    # for a free slot, not behind the filler of every world already streaming, its own user's
    # included; among first steps, users still take turns.
    import asyncio

    from server.scheduler import FairTurns

    turns = FairTurns(2, per_user=2)
    order: list[str] = []
    release = asyncio.Event()

    async def step(name: str, user: str, first: bool = False) -> None:
        async with turns.turn(user, first):
            order.append(name)
            await release.wait()

    tasks = [asyncio.ensure_future(step(n, u)) for n, u in (("a1", "a"), ("b1", "b"), ("a2", "a"), ("b2", "b"))]
    await asyncio.sleep(0)
    assert order == ["a1", "b1"]
    tasks += [asyncio.ensure_future(step("c-first", "c", first=True)),
              asyncio.ensure_future(step("a-first", "a", first=True))]
    await asyncio.sleep(0)
    assert turns.waiting == {"a": 2, "b": 1, "c": 1}
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["a1", "b1", "c-first", "a-first", "a2", "b2"], order
    assert turns.waiting == {}


async def test_stored_bytes_per_user_are_a_quota_with_a_clear_error(make_client: AppFactory) -> None:
    client = await make_client(max_stored_bytes_per_user=20_000)
    alice = await open_peer(client, "alice")
    start, _, done = await alice.generate(PROMPT, max_instances=500, room=False)  # ~50 KB of chunks
    assert done["status"] == "complete"
    refused = await alice.request("prompt", prompt=PROMPT, max_instances=10)
    assert refused["type"] == "error" and refused["code"] == ErrorCode.LIMIT_EXCEEDED, refused
    assert "20000" in refused["message"] and "delete worlds" in refused["message"]
    token = await login(client, "alice")
    resp = await client.post("/api/v1/prompt2world/", headers=bearer(token), json={"prompt": PROMPT})
    assert resp.status == 429 and (await resp.json())["error"] == "limit_exceeded"
    # Bob stores nothing yet; deleting the world gives alice her room back.
    await _generate_small(await open_peer(client, "bob"), 1)
    resp = await client.delete(f"/api/v1/worlds/{start['world_id']}", headers=bearer(token))
    assert resp.status in (200, 204), await resp.text()
    await _generate_small(alice, 1)
