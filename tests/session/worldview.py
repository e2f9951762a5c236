"""A client-side model of a joined world, applying frames the way a Unity client would."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from records import InstanceRecord
from server.context import SERVICES


class WorldView:
    def __init__(self, world_id: str) -> None:
        self.world_id = world_id
        self.instances: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []  # arrival order of instance ids
        self.seq = 0
        self.seqs: list[int] = []  # every seq applied, in order (gaps/duplicates show here)
        self.pending: dict[int, list[dict[str, Any]]] = {}  # my edits by rid, until acked

    def _add(self, inst: dict[str, Any]) -> None:
        if inst["id"] not in self.instances:
            self.order.append(inst["id"])
        self.instances[inst["id"]] = dict(inst)

    def apply_op(self, op: dict[str, Any]) -> None:
        kind = op["op"]
        if kind == "add":
            self._add({"id": op["id"], "prefab_id": op["prefab_id"], "prefab_type": op["prefab_type"],
                       "pos": op["pos"], "rot": op["rot"], "scale": op["scale"], "props": op.get("props") or {}})
        elif kind == "remove":
            self.instances.pop(op["id"], None)
        elif kind == "move":
            inst = self.instances[op["id"]]
            for key in ("pos", "rot", "scale"):
                if key in op:
                    inst[key] = op[key]
        elif kind == "set":
            props = dict(self.instances[op["id"]]["props"])
            for k, v in op["props"].items():
                if v is None:
                    props.pop(k, None)
                else:
                    props[k] = v
            self.instances[op["id"]]["props"] = props

    def feed(self, f: dict[str, Any]) -> None:
        t = f.get("type")
        if f.get("world_id") != self.world_id:
            return
        if t == "snapshot":
            if f["index"] == 0:
                self.instances.clear()
                self.order.clear()
            for inst in f["instances"]:
                self._add(inst)
            self.seq = f["seq"]
        elif t == "joined":
            self.seq = f["seq"] if f["mode"] == "snapshot" else self.seq
        elif t == "gen.chunk":
            for inst in f["instances"]:
                self._add(inst)
        elif t == "op":
            assert f["seq"] == self.seq + 1, f"gap or duplicate: at {self.seq}, got {f['seq']}"
            for op in f["ops"]:
                self.apply_op(op)
            self.seq = f["seq"]
            self.seqs.append(f["seq"])
        elif t == "edit.ack":
            sent = self.pending.pop(f["rid"])
            if any(r["outcome"] == "applied" for r in f["results"]):
                assert f["seq"] == self.seq + 1, f"ack out of order: at {self.seq}, got {f['seq']}"
                self.seq = f["seq"]
                self.seqs.append(f["seq"])
            for result, op in zip(f["results"], sent, strict=True):
                if result["outcome"] != "applied":
                    continue
                op = dict(op, id=result["id"])
                if op["op"] == "add":
                    op.setdefault("rot", [0.0, 0.0, 0.0, 1.0])
                    op.setdefault("scale", [1.0, 1.0, 1.0])
                    op.setdefault("prefab_type", self._prefab_type(op["prefab_id"]))
                self.apply_op(op)

    prefab_types: dict[str, str] = {}

    def _prefab_type(self, prefab_id: str) -> str:
        return self.prefab_types[prefab_id]


async def stored_state(client: TestClient, world_id: str) -> tuple[int, dict[str, dict[str, Any]]]:
    store = client.app[SERVICES].store
    world = await store.worlds.require(world_id)
    rows = await store.worlds.instances(world_id)
    return world.seq, {r.id: InstanceRecord.from_row(r).wire() for r in rows}


def same_state(view: WorldView, stored: dict[str, dict[str, Any]]) -> bool:
    def norm(inst: dict[str, Any]) -> tuple[Any, ...]:
        return (inst["prefab_id"], tuple(round(v, 4) for v in inst["pos"]), tuple(round(v, 4) for v in inst["rot"]),
                tuple(round(v, 4) for v in inst["scale"]), sorted(inst["props"].items()))
    return {k: norm(v) for k, v in view.instances.items()} == {k: norm(v) for k, v in stored.items()}
