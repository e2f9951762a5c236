"""Exactly one final frame per edit (docs/protocol.md §8.3), when the connection to PostgreSQL
dies inside the edit's transaction: during its COMMIT (PostgreSQL has stored it, the node
cannot know: it reads the op back by (session, rid) and answers `edit.ack`), or before it (not
stored: `unavailable`, and sending it again is safe). Never an error first, never twice.

The proxy cuts the transaction that sends a token only the edit under test carries (in its
props), so no other statement of the node (a play count after the join, a lease renewal) can
take the cut."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import pytest

from tests.multinode.conftest import connect, db_fetch
from tests.multinode.faults import CommitCutter, Spawn, commit_cutter, db_url, pg_role, spawn  # noqa: F401
from tests.multinode.helpers import add_op, join, new_world
from tests.session.peer import Peer, rid

pytestmark = [pytest.mark.postgres]


async def _joined_owner(http: aiohttp.ClientSession, role: str, cutter: CommitCutter, start: Spawn,
                        user: str) -> tuple[Peer, str, dict[str, Any]]:
    """A node whose store is behind `cutter`, a member of a fresh world: (peer, world id,
    a template instance)."""
    node = await start("a", db_url(role, cutter.port), redis=False)
    owner = await connect(http, node, user)
    world_id, template = await new_world(owner)
    await join(owner, world_id)
    return owner, world_id, template


def _marked_add(template: dict[str, Any], tag: str, marker: str) -> dict[str, Any]:
    """An add without an id (resending a stored one would duplicate the instance) whose props
    carry `marker`, which the edit's INSERT into the op log sends."""
    op = add_op(template, 0, tag)
    return {**op, "id": None, "props": {**op["props"], "cut": marker}}


async def test_an_edit_whose_commit_reply_is_lost_is_acked_once(
        http: aiohttp.ClientSession, pg_role: str, commit_cutter: CommitCutter, spawn: Spawn) -> None:  # noqa: F811
    owner, world_id, template = await _joined_owner(http, pg_role, commit_cutter, spawn, "ugo")
    marker = secrets.token_hex(8)
    commit_cutter.arm(marker.encode())
    lost = rid()
    await owner.send(type="edit", rid=lost, world_id=world_id, ops=[_marked_add(template, "u", marker)])
    first = await owner.until(lambda f: f.get("rid") == lost)
    assert commit_cutter.cuts == 1
    assert first["type"] == "edit.ack", first
    # A later edit is acked after any other frame for `lost` would have been sent (the room
    # fills a seq gap before it delivers the next op).
    after = await owner.request("edit", world_id=world_id, ops=[add_op(template, 1, "u")])
    assert after["type"] == "edit.ack" and after["seq"] == first["seq"] + 1, after
    finals = [f for f in owner.seen if f.get("rid") == lost]
    assert finals == [first]

    rows = await db_fetch(db_url(pg_role), "SELECT seq, rid FROM world_ops WHERE world_id = $1 ORDER BY seq", world_id)
    assert [(r["seq"], r["rid"]) for r in rows] == [(first["seq"], lost), (after["seq"], after["rid"])]


async def test_an_edit_cut_before_its_commit_is_unavailable_once_and_safe_to_resend(
        http: aiohttp.ClientSession, pg_role: str, commit_cutter: CommitCutter, spawn: Spawn) -> None:  # noqa: F811
    owner, world_id, template = await _joined_owner(http, pg_role, commit_cutter, spawn, "vera")
    marker = secrets.token_hex(8)
    commit_cutter.arm(marker.encode(), before=True)  # the op log INSERT never reaches PostgreSQL
    op = _marked_add(template, "v", marker)
    lost = rid()
    await owner.send(type="edit", rid=lost, world_id=world_id, ops=[op])
    first = await owner.until(lambda f: f.get("rid") == lost)
    assert commit_cutter.cuts == 1
    assert first["type"] == "error" and first["name"] == "unavailable" and first["retry_after_s"] > 0, first
    again = await owner.request("edit", world_id=world_id, ops=[op])
    assert again["type"] == "edit.ack" and again["seq"] == 1, again
    assert [f for f in owner.seen if f.get("rid") == lost] == [first]
    rows = await db_fetch(db_url(pg_role), "SELECT seq, rid FROM world_ops WHERE world_id = $1", world_id)
    assert [(r["seq"], r["rid"]) for r in rows] == [(1, again["rid"])]
    instances = await db_fetch(db_url(pg_role), "SELECT props FROM world_instances WHERE world_id = $1 "
                               "AND props::text LIKE $2", world_id, f"%{marker}%")
    assert len(instances) == 1  # the resent add, once
