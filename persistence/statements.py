"""One set of statements for both backends, and the two ways of running them.

A repository writes each statement once, as SQLAlchemy Core, and its transaction once, as a
generator of `Call`s (`Tx`): it yields a statement with its parameters and receives the
result. `run_core` runs such a transaction on an async SQLAlchemy connection (PostgreSQL, and
SQLite without a file); `run_sqlite` runs it on a plain `sqlite3` connection — the writer
thread's (persistence/sqlite_writer.py) — with each statement compiled once for SQLite and
cached: its SQL text, its parameters laid out by position, and the values stored in
SQLAlchemy's SQLite formats (`sqlite_time`, compact JSON text), so the ORM reads them back as
if it had written them. A hot statement costs the driver no more than hand-written SQL did.

Statements must be module-level constants (the cache is keyed by the object); values are
named `bindparam`s, and a list (`IN`) is a `bindparam(..., expanding=True)`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal, NamedTuple, TypeVar

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from .sqlite_writer import json_text, sqlite_time

T = TypeVar("T")
Params = Mapping[str, Any]
Want = Literal["rowcount", "first", "all", "scalar"]


class Call(NamedTuple):
    """One statement of a transaction: `params` is one mapping, or a list of them (executemany,
    whose result is the row count); `want` is what the transaction receives back."""

    stmt: Executable
    params: Params | Sequence[Params]
    want: Want = "rowcount"


#: A transaction: yields Calls, receives each one's result, returns its value.
Tx = Generator[Call, Any, T]


def execute(stmt: Executable, params: Params | Sequence[Params]) -> Call:
    """The statement's row count (of all rows, for a list of parameter sets)."""
    return Call(stmt, params)


def first(stmt: Executable, params: Params) -> Call:
    """The first row (a tuple), or None."""
    return Call(stmt, params, "first")


def rows(stmt: Executable, params: Params) -> Call:
    """Every row, as tuples."""
    return Call(stmt, params, "all")


def scalar(stmt: Executable, params: Params) -> Call:
    """The first column of the first row, or None."""
    return Call(stmt, params, "scalar")


def single(call: Call) -> Tx[Any]:
    """A transaction of one statement, returning its result."""
    result = yield call
    return result


# -- on an async SQLAlchemy connection or session --------------------------------------------------
async def run_core(conn: Any, tx: Tx[T]) -> T:
    """Run `tx` on an AsyncConnection (or AsyncSession): the caller owns the transaction."""
    result: Any = None
    try:
        while True:
            call = tx.send(result)
            out = await conn.execute(call.stmt, call.params)
            if call.want == "rowcount":
                result = out.rowcount
            elif call.want == "first":
                result = out.first()
            elif call.want == "all":
                result = out.all()
            else:
                result = out.scalar()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


# -- on a sqlite3 connection -------------------------------------------------------------------------
_DIALECT = sqlite.dialect(paramstyle="qmark")
_NOT_GIVEN = object()


def _bind_converter(type_: Any) -> Callable[[Any], Any] | None:
    """How a value of this column type is handed to sqlite3 (None: as it is)."""
    if isinstance(type_, DateTime):
        return lambda v: None if v is None else sqlite_time(v)
    if isinstance(type_, JSON):
        return lambda v: None if v is None else json_text(v)
    return None


def _result_converter(type_: Any) -> Callable[[Any], Any] | None:
    """How a stored value of this type is read back (SQLAlchemy's own SQLite reading)."""
    if isinstance(type_, DateTime | JSON):
        convert: Callable[[Any], Any] | None = type_.dialect_impl(_DIALECT).result_processor(_DIALECT, None)
        return convert
    return None


class SqliteStatement:
    """A Core statement compiled for sqlite3: SQL text, and its parameters by position."""

    __slots__ = ("sql", "names", "_slots", "_conv_at", "_get", "_lists", "_results", "_texts")

    def __init__(self, stmt: ClauseElement) -> None:
        compiled: Any = stmt.compile(dialect=_DIALECT)
        self.sql: str = compiled.string
        binds = [(name, compiled.binds[name]) for name in compiled.positiontup or ()]
        self.names: tuple[str, ...] = tuple(name for name, _ in binds)  # the parameters, by position
        # Per position: the parameter's name, its value when the statement holds it (a literal
        # such as status = 'generating'), its converter, whether it is a list (IN).
        self._slots: list[tuple[str, Any, Callable[[Any], Any] | None, bool]] = [
            (name, b.value if not b.required and b.callable is None else _NOT_GIVEN, _bind_converter(b.type),
             bool(b.expanding)) for name, b in binds]
        self._lists = [name for name, _, _, listed in self._slots if listed]
        # The common case, every value given and none a list: one itemgetter, then converted
        # in place at the positions whose type needs it.
        self._conv_at: list[tuple[int, Callable[[Any], Any]]] = [
            (i, c) for i, (_, _, c, _) in enumerate(self._slots) if c is not None]
        self._get: Callable[[Params], tuple[Any, ...]] | None = None
        if self._slots and not self._lists and all(f is _NOT_GIVEN for _, f, _, _ in self._slots):
            getter = itemgetter(*(name for name, _, _, _ in self._slots))
            self._get = getter if len(self._slots) > 1 else lambda p: (getter(p),)
        self._results: list[Callable[[Any], Any] | None] | None = None
        columns = getattr(stmt, "selected_columns", None) if getattr(stmt, "is_select", False) \
            else getattr(stmt, "_returning", None)
        if columns:
            converters = [_result_converter(c.type) for c in columns]
            if any(converters):
                self._results = converters
        self._texts: dict[tuple[int, ...], str] = {}

    def many(self, values: Sequence[Params]) -> list[Sequence[Any]]:
        """`params` of each mapping (an executemany's rows), without a call per row."""
        if self._get is None:
            return [self.params(v) for v in values]
        got: list[Sequence[Any]] = list(map(self._get, values))
        if self._conv_at:
            for n, row in enumerate(got):
                converted = list(row)
                for i, convert in self._conv_at:
                    converted[i] = convert(converted[i])
                got[n] = converted
        return got

    def params(self, values: Params) -> Sequence[Any]:
        if self._get is not None:
            if not self._conv_at:
                return self._get(values)
            got = list(self._get(values))
            for i, convert in self._conv_at:
                got[i] = convert(got[i])
            return got
        out: list[Any] = []
        for name, fixed, cast_to, listed in self._slots:
            value = values[name] if fixed is _NOT_GIVEN else fixed
            if listed:
                out.extend(value if cast_to is None else map(cast_to, value))
            else:
                out.append(value if cast_to is None else cast_to(value))
        return tuple(out)

    def text(self, values: Params) -> str:
        """The SQL for these values: a list parameter becomes as many `?` as it holds."""
        if not self._lists:
            return self.sql
        sizes = tuple(len(values[name]) for name in self._lists)
        sql = self._texts.get(sizes)
        if sql is None:
            sql = self.sql
            for name, size in zip(self._lists, sizes, strict=True):
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * size))
            if len(self._texts) < 64:
                self._texts[sizes] = sql
        return sql

    def row(self, raw: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if raw is None or self._results is None:
            return raw
        return tuple(v if c is None else c(v) for v, c in zip(raw, self._results, strict=True))


_compiled: dict[int, tuple[ClauseElement, SqliteStatement]] = {}


def compiled(stmt: Any) -> SqliteStatement:
    """The statement compiled for sqlite3, once per statement object."""
    hit = _compiled.get(id(stmt))
    if hit is not None and hit[0] is stmt:
        return hit[1]
    out = SqliteStatement(stmt)
    if len(_compiled) >= 1024:  # statements are module constants; a bound keeps a mistake harmless
        _compiled.clear()
    _compiled[id(stmt)] = (stmt, out)  # the statement is held, so its id is not reused
    return out


def run_sqlite(conn: sqlite3.Connection, tx: Tx[T]) -> T:
    """Run `tx` on a sqlite3 connection: the caller owns the transaction (SqliteWriter.run)."""
    result: Any = None
    try:
        while True:
            call = tx.send(result)
            st = compiled(call.stmt)
            if not isinstance(call.params, Mapping):
                many = call.params
                result = conn.executemany(st.text(many[0]), st.many(many)).rowcount if many else 0
                continue
            cur = conn.execute(st.text(call.params), st.params(call.params))
            if call.want == "rowcount":
                result = cur.rowcount
            elif call.want == "first":
                result = st.row(cur.fetchone())
            elif call.want == "all":
                result = [st.row(r) for r in cur.fetchall()]
            else:
                row = cur.fetchone()
                result = None if row is None else st.row(row)[0]  # type: ignore[index]
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
