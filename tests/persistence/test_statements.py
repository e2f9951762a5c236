"""One set of statements, two executors (persistence/statements.py): a Core statement run by
sqlite3 on the writer thread stores and reads what SQLAlchemy's engine would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select

from persistence.db import migrate_async
from persistence.statements import Tx, execute, first, rows, run_core, run_sqlite, scalar
from persistence.store import Store
from persistence.telemetry import _sqlite_insert
from persistence.users import _USERS
from persistence.worlds import INSERT_WORLD, WORLDS

STAMP = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
# A literal (status = 'complete'), a list (IN), a JSON and a DateTime column read back.
_READ = (select(WORLDS.c.id, WORLDS.c.header, WORLDS.c.created_at, WORLDS.c.gen_lease_until)
         .where(WORLDS.c.id.in_(bindparam("ids", expanding=True)), WORLDS.c.status == "complete")
         .order_by(WORLDS.c.id))
_OWNED = select(WORLDS.c.id).where(WORLDS.c.owner_id == bindparam("owner_id"), WORLDS.c.status == "complete")


def _tx(world_id: str) -> Tx[tuple[Any, Any, Any]]:
    header = {"title": "Forest", "tags": ["a", "b"], "n": 1.5}
    added = yield execute(INSERT_WORLD, {
        "id": world_id, "owner_id": "alice", "prompt": "p", "world_type": "nature", "title": "t",
        "description": "d", "header": header, "seed": 3, "status": "complete", "visibility": "private", "seq": 0,
        "instance_count": 0, "processing_time_ms": 1.0, "created_at": STAMP, "updated_at": STAMP,
        "stored_bytes": 0, "gen_lease_until": None})
    assert added == 1
    found = yield rows(_READ, {"ids": [world_id, "nowhere"]})
    one = yield first(_READ, {"ids": [world_id]})
    owned = yield scalar(_OWNED, {"owner_id": "alice"})
    return found, one, owned


async def test_a_transaction_runs_alike_on_the_writer_thread_and_on_the_engine(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    await migrate_async(url)
    store = Store(url)
    try:
        assert store._writer is not None
        await store.users.ensure_guest("alice")
        by_writer = await store._writer.run(lambda conn: run_sqlite(conn, _tx("w1")))
        async with store.engine.begin() as conn:
            by_engine = await run_core(conn, _tx("w2"))
        for found, one, owned in (by_writer, by_engine):
            assert len(found) == 1 and tuple(found[0]) == tuple(one)
            assert owned in ("w1", "w2")
        assert [tuple(r)[1:] for r in by_writer[0]] == [tuple(r)[1:] for r in by_engine[0]]
        assert tuple(by_writer[1])[1:] == ({"title": "Forest", "tags": ["a", "b"], "n": 1.5},
                                           STAMP.replace(tzinfo=None), None)
        # and the ORM reads both rows back alike
        w1, w2 = await store.worlds.require("w1"), await store.worlds.require("w2")
        assert (w1.header, w1.created_at, w1.updated_at) == (w2.header, w2.created_at, w2.updated_at)
        name = await store.users.display_name("alice")
        assert name == "alice" and await store.users.display_name("nobody") is None
    finally:
        await store.close()


def test_the_telemetry_insert_is_compiled_from_the_one_statement() -> None:
    # The SQL text the driver prepares, row by row in a Row's column order.
    cols = "user_id, client_event_id, event_type, session_id, world_id, experience_id, data, timestamp, received_at"
    row = "(" + ", ".join("?" * 9) + ")"
    assert _sqlite_insert(2) == f"INSERT INTO telemetry_events ({cols}) VALUES {row}, {row} ON CONFLICT DO NOTHING"
    assert _USERS.name == "users"
