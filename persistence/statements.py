"""One set of statements for both backends, and the two ways of running them.

A repository writes each statement once, as SQLAlchemy Core, and its transaction once, as a
generator of `Call`s (`Tx`): it yields a statement with its parameters and receives the
result. `run_core` runs such a transaction on an async SQLAlchemy connection (PostgreSQL, and
SQLite without a file); `run_sqlite` runs it on a plain `sqlite3` connection — the writer
thread's (persistence/sqlite_writer.py) — with each statement compiled once for SQLite and
cached: its SQL text, its parameters laid out by position, and the values stored in
SQLAlchemy's SQLite formats (`sqlite_time`, compact JSON text), so the ORM reads them back as
if it had written them. The driver runs the same statements hand-written SQL ran; the shared
executor adds about half a microsecond of Python per statement (a transaction is a generator),
and makes the DateTime and JSON conversions on the writer thread.

Statements must be module-level constants (the cache is keyed by the object); values are
named `bindparam`s, and a list (`IN`) is a `bindparam(..., expanding=True)`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Generator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal, TypeVar

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from .sqlite_writer import json_text, sqlite_time

T = TypeVar("T")
Params = Mapping[str, Any]
Want = Literal["rowcount", "first", "all", "scalar"]


#: One statement of a transaction: (statement, parameters, what the transaction receives back).
#: The parameters are one mapping, or a list of them (executemany, whose result is the row
#: count). A plain tuple: it is built for every statement.
Call = tuple[Executable, Params | list[dict[str, Any]], Want]


#: A transaction: yields Calls, receives each one's result, returns its value.
Tx = Generator[Call, Any, T]


def execute(stmt: Executable, params: Params | list[dict[str, Any]]) -> Call:
    """The statement's row count (of all rows, for a list of parameter sets)."""
    return stmt, params, "rowcount"


def first(stmt: Executable, params: Params) -> Call:
    """The first row (a tuple), or None."""
    return stmt, params, "first"


def rows(stmt: Executable, params: Params) -> Call:
    """Every row, as tuples."""
    return stmt, params, "all"


def scalar(stmt: Executable, params: Params) -> Call:
    """The first column of the first row, or None."""
    return stmt, params, "scalar"


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
            stmt, params, want = tx.send(result)
            out = await conn.execute(stmt, params)
            if want == "rowcount":
                result = out.rowcount
            elif want == "first":
                result = out.first()
            elif want == "all":
                result = out.all()
            else:
                result = out.scalar()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


# -- on a sqlite3 connection -------------------------------------------------------------------------
_DIALECT = sqlite.dialect(paramstyle="named")  # named, so the statement's own values can be written in
_QMARK = sqlite.dialect(paramstyle="qmark")


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


def _text(literal: str) -> Callable[[re.Match[str]], str]:
    return lambda _: literal


def qmark_sql(stmt: ClauseElement) -> tuple[str, tuple[str, ...]]:
    """The statement's SQLite text with `?` parameters, and the parameters' names by position
    (for callers that hand sqlite flat parameter lists: telemetry's multi-row insert)."""
    compiled: Any = stmt.compile(dialect=_QMARK)
    return compiled.string, tuple(compiled.positiontup or ())


class SqliteStatement:
    """A Core statement compiled for sqlite3: its SQL with `?` parameters and their names by
    position. A value the statement holds (a literal such as status = 'generating') is written
    into the SQL; only the values whose type needs it (DateTime, JSON) are converted."""

    __slots__ = ("sql", "names", "get", "simple", "converts", "_convert", "_lists", "_results", "_texts")

    def __init__(self, stmt: ClauseElement) -> None:
        compiled: Any = stmt.compile(dialect=_DIALECT)
        sql: str = compiled.string
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        for name, bind in binds.items():
            if not bind.required and bind.callable is None:  # a value of the statement's own
                sql = re.sub(rf":{re.escape(name)}\b", _text(compiled.render_literal_value(bind.value, bind.type)), sql)
        names: list[str] = []

        def position(m: re.Match[str]) -> str:
            name = m[1] or m[2]
            if name not in binds:
                return m[0]
            names.append(name)
            return "?" if m[1] else m[0]  # a list stays a placeholder until its length is known
        self.sql = re.sub(r":(\w+)|__\[POSTCOMPILE_(\w+)\]", position, sql)
        self.names = tuple(names)
        self._lists = tuple(i for i, name in enumerate(names) if binds[name].expanding)
        self._convert: list[tuple[int, Callable[[Any], Any]]] = [
            (i, c) for i, name in enumerate(names) if (c := _bind_converter(binds[name].type)) is not None]
        self.simple = not self._convert and not self._lists  # `get` gives the parameters as they are
        getter = itemgetter(*names) if names else None
        self.get: Callable[[Params], Sequence[Any]] = (
            (lambda _: ()) if getter is None else getter if len(names) > 1 else lambda p: (getter(p),))
        self._results: list[tuple[int, Callable[[Any], Any]]] = []  # (column, converter)
        columns = getattr(stmt, "selected_columns", None) if getattr(stmt, "is_select", False) \
            else getattr(stmt, "_returning", None)
        if columns:
            for i, column in enumerate(columns):
                if (convert := _result_converter(column.type)) is not None:
                    self._results.append((i, convert))
        self.converts = bool(self._results)  # whether read rows need `row`
        self._texts: dict[tuple[int, ...], str] = {}

    def params(self, values: Params) -> Sequence[Any]:
        """The positional parameters for these values."""
        got = self.get(values)
        if self.simple:
            return got
        out = list(got)
        for i, convert in self._convert:
            out[i] = [convert(v) for v in out[i]] if i in self._lists else convert(out[i])
        if self._lists:
            flat: list[Any] = []
            for i, value in enumerate(out):
                if i in self._lists:
                    flat.extend(value)
                else:
                    flat.append(value)
            return flat
        return out

    def many(self, values: Sequence[Params]) -> Sequence[Sequence[Any]]:
        """`params` of each mapping (an executemany's rows)."""
        if self.simple:
            return list(map(self.get, values))
        return [self.params(v) for v in values]

    def text(self, values: Params) -> str:
        """The SQL for these values: a list parameter becomes as many `?` as it holds."""
        if not self._lists:
            return self.sql
        sizes = tuple(len(values[self.names[i]]) for i in self._lists)
        sql = self._texts.get(sizes)
        if sql is None:
            sql = self.sql
            for i, size in zip(self._lists, sizes, strict=True):
                sql = sql.replace(f"__[POSTCOMPILE_{self.names[i]}]", ", ".join("?" * size))
            if len(self._texts) < 64:
                self._texts[sizes] = sql
        return sql

    def row(self, raw: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if raw is None or not self._results:
            return raw
        out = list(raw)
        for i, convert in self._results:
            out[i] = convert(out[i])
        return tuple(out)


_compiled: dict[int, tuple[Any, SqliteStatement]] = {}


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
            stmt, params, want = tx.send(result)
            hit = _compiled.get(id(stmt))
            st = hit[1] if hit is not None and hit[0] is stmt else compiled(stmt)
            if params.__class__ is list:  # executemany
                result = conn.executemany(st.text(params[0]), st.many(params)).rowcount if params else 0
                continue
            if st.simple:  # the common case, inlined: no list to spread, no value to convert
                cur = conn.execute(st.sql, st.get(params))  # type: ignore[arg-type]
            else:
                cur = conn.execute(st.text(params), st.params(params))  # type: ignore[arg-type]
            if want == "rowcount":
                result = cur.rowcount
            elif want == "first":
                result = st.row(cur.fetchone())
            elif want == "all":
                result = [st.row(r) for r in cur.fetchall()] if st.converts else cur.fetchall()
            else:
                row = cur.fetchone()
                result = None if row is None else st.row(row)[0]  # type: ignore[index]
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
