"""The served store: app replicas and the CLI as clients of one DuckDB server speaking Quack.

A DuckDB file can be held by one process, so a second app process cannot open the store. With
`THREAT_DB=quack:HOST:PORT` every app replica and every CLI command is instead a client of one store server
(`python -m analytics serve`, `serve()` below), which holds the file, runs the migrations and the backups, and
serves it with Quack, DuckDB's own client-server protocol (`quack_serve`, `ATTACH 'quack:…'`). The embedded file
stays the default.

What this module relies on, measured on DuckDB 1.5.5 with its PyPI Quack wheel (docs/deployment.md):
- `ATTACH 'quack:…'` cannot attach this store: the client replays each CREATE TABLE and fails on defaults that
  call functions (`nextval('audit_seq')`, `[]`) with 'Catalog … does not exist'; and through an attached
  catalog UPDATE and DELETE are refused. So every statement runs whole on the server through `quack_query`
  (`QuackCursor`), and its result streams back as an ordinary DuckDB result (`.df()`, `.fetchall()` unchanged);
- `quack_query` takes SQL text only, so the app's bound parameters are rendered into it as literals by DuckDB's
  own `ConstantExpression` (quoting and types are DuckDB's), at this one place, after the app has bound them;
- a statement sent alone commits by itself, and the server keeps no transaction open between two `quack_query`
  calls (`BEGIN` sent alone is lost); but one `quack_query` text may hold several statements, which the server
  runs in order on one connection: `BEGIN; …; COMMIT` in one text is one server transaction, an error anywhere
  in it leaves nothing behind (a text that ends without COMMIT is rolled back), and its result is that of the
  first statement that returns rows (measured with a probe server; the mechanism below is tested in
  tests/deploy/test_served_writes.py). So `ServedStore.transaction` is
  all-or-nothing (`QuackTransaction`): the block's writes are rendered and kept, reads run at once inside
  `BEGIN; <the writes so far>; <read>; ROLLBACK` (so they see the block's own writes), and the commit sends
  `BEGIN; <guards>; <writes>; <version bump>; COMMIT` as one text. A guard re-reads, in the committed store,
  what one of the block's reads read and aborts the text (WriteConflict: "nothing was saved. Try again") when
  another client changed those rows since: read-then-write checks (an assessment's expected version, an
  import's "already stored?") cannot lose an update. The version row is bumped in the same transaction, so a
  replica that sees the new version also sees the write;
- what a served transaction cannot do: return a row count for a write (known only at commit; `fetchone()`
  gives None), or RETURNING other than `insert into T (…) values (…) returning id`, whose id is taken from T's
  sequence first (a failed save leaves a gap in the ids). A guard covers whole rows, so a save is also refused
  when another client changed another column of a row the block read (a needless "try again", never a lost
  update). Statements sent through a plain `cursor()` outside `transaction()` still commit one by one; the app
  writes only inside transactions;
- a local table the code registers (`con.register`: the importers stage rows in Arrow tables) cannot be shipped
  to the server, so it travels as `create temp table … as select … from (values …)` in the same text as the
  statements that use it (`_temp_table`); with that, the importers run unchanged through the served store;
- the server cannot turn off external access (Quack stops answering), so the token is a credential to the whole
  store: the server listens on loopback or a private network only.

The token comes from the secrets file (`THREAT_SECRETS`, default `.streamlit/secrets.toml`, section `[store]`,
key `token`), never from the command line or an environment variable (both are visible in process listings).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from analytics.store.database import (
    DATA_VERSION_MIGRATION,
    Store,
    StoreError,
    StoreUnavailable,
    WriteConflict,
    duckdb_config,
    load_migrations,
)
from analytics.wording import counted

DEFAULT_SECRETS = Path(".streamlit/secrets.toml")
_TARGET = re.compile(r"quack:(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})")
# The server-side statement that bumps the version row (an INSERT with nextval must run where the sequence is).
_BUMP = "insert into data_versions values (nextval('data_version_seq'), ?, current_timestamp)"
# Transaction control the app sends: not forwarded by Quack 1.5.5 (see the module docstring), so not sent.
_TRANSACTION_CONTROL = re.compile(r"\s*(begin|commit|rollback|abort|end)(\s+transaction)?\s*;?\s*", re.I)


def render(sql: str, params: Sequence[Any] | Mapping[str, Any] | None) -> str:
    """`sql` with each `?` (a list of values) or `$name` (a dict) outside quotes and comments replaced by
    DuckDB's literal for its value."""
    named = params if isinstance(params, Mapping) else None
    values = [] if named is not None else list(params or [])
    out: list[str] = []
    i, n, used = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch in "'\"":  # a quoted literal or identifier: copied whole (doubled quotes stay inside)
            j = i + 1
            while j < n and not (sql[j] == ch and (j + 1 >= n or sql[j + 1] != ch)):
                j += 2 if sql[j] == ch else 1
            out.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif ch == "?":
            if used >= len(values):
                raise StoreError(
                    f"query has more ? placeholders than the {counted(len(values), 'value')} given"
                )
            out.append(str(duckdb.ConstantExpression(values[used])))
            used += 1
            i += 1
        elif ch == "$" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            name = sql[i + 1 : j]
            if named is None or name not in named:
                raise StoreError(f"query parameter ${name} has no value")
            out.append(str(duckdb.ConstantExpression(named[name])))
            i = j
        else:
            out.append(ch)
            i += 1
    if used != len(values):
        raise StoreError(
            f"query has {counted(used, '? placeholder')} but {counted(len(values), 'value')} given"
        )
    return "".join(out)


class QuackCursor:
    """A cursor whose statements run whole on the store server (`quack_query`); results are the local DuckDB
    connection's own, so `.df()`, `.fetchall()`, `.fetchone()` and friends behave as with the embedded file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, target: str) -> None:
        self._con = con
        self._target = target
        self._registered: dict[str, str] = {}

    def _text(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None) -> str:
        text = render(sql, parameters)
        if not self._registered:
            return text
        # Registered tables live in the server's connection for this one text only (`_temp_table`).
        return "; ".join(["begin", *self._registered.values(), text.strip().rstrip(";"), "commit"])

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> QuackCursor:
        if _TRANSACTION_CONTROL.fullmatch(sql):
            return self
        try:
            self._con.execute("from quack_query(?, ?)", [self._target, self._text(sql, parameters)])
        except duckdb.IOException:  # measured: a refused or dropped connection to the server
            raise StoreUnavailable(self._target) from None
        return self

    def register(self, name: str, table: Any) -> QuackCursor:
        """A local table (Arrow or pandas) later statements name: sent with each of them (`_temp_table`)."""
        self._registered[name] = _temp_table(self._con, name, table)
        return self

    def unregister(self, name: str) -> QuackCursor:
        self._registered.pop(name, None)
        return self

    def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> QuackCursor:
        for row in parameters:
            self.execute(sql, row)
        return self

    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation:
        text = self._text(query, params)
        return self._con.sql(f"from quack_query({_literal(self._target)}, {_literal(text)})")

    def cursor(self) -> QuackCursor:
        return QuackCursor(self._con.cursor(), self._target)

    def __getattr__(self, name: str) -> Any:  # fetchall, fetchone, df, description, close, ...
        return getattr(self._con, name)


# Statements that only read: run at once (against the committed state plus this transaction's own writes).
_READ = re.compile(
    r"\s*(\(\s*)*(select|with|from|values|table|describe|show|summarize|pragma|explain)\b", re.I
)
# `insert into T (cols) values (…) returning id`: the one RETURNING form the app uses. Its id is taken from T's
# sequence at once, so the statement can wait for the commit like every other write (sequences are not
# transactional in DuckDB either: an embedded rollback leaves the same gap, measured on 1.5.5).
_INSERT_RETURNING_ID = re.compile(
    r"\s*insert\s+into\s+(?P<table>\w+)\s*\((?P<cols>[^)]*)\)\s*values\s*\((?P<values>.*)\)\s*returning\s+id\s*;?\s*",
    re.I | re.S,
)
_SEQUENCE_DEFAULT = re.compile(r"nextval\('(?P<seq>\w+)'\)")
# A statement that starts like a read but writes (`with x as (…) insert into …`): never run as a read, whose
# speculative run is rolled back. Looked for outside quoted literals, where the rendered values are.
_WRITES = re.compile(r"\b(insert\s+(or\s+\w+\s+)?into|update\s+\w+\s+set|delete\s+from|merge\s+into)\b", re.I)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def _is_read(text: str) -> bool:
    return bool(_READ.match(text)) and not _WRITES.search(_QUOTED.sub("''", text))


_NAMES_A_TABLE = re.compile(r"\bfrom\b", re.I)
# What a failed guard raises on the server; the client turns it into WriteConflict.
_GUARD_MARK = "threat-store write conflict: a row read in this transaction changed before it committed"


def _guard_sql(read: str, count: int, digest: int) -> str:
    """A statement that aborts the server transaction when `read` no longer returns the rows it did."""
    return (
        f"select error({_literal(_GUARD_MARK)}) from ({_digest_sql(read)}) g "
        f"where g.n <> {count} or g.h <> {digest}::hugeint"
    )


def _digest_sql(read: str) -> str:
    return f"select count(*) as n, coalesce(sum(hash(r)), 0)::hugeint as h from ({read}) r"


class QuackTransaction:
    """The cursor of a served transaction. Writes are rendered and kept; reads run at once on the server inside
    `BEGIN; <the writes so far>; <read>; ROLLBACK`, so they see this transaction's own writes, and each read
    leaves a guard: its row count and a hash of its rows in the committed store (without this transaction's
    writes, whose defaults such as `current_timestamp` differ from one server transaction to the next), taken
    before the read itself. `commit` sends `BEGIN; guards; writes in order; version bump; COMMIT` as one text:
    the server runs it as one transaction (measured: an error anywhere in the text leaves nothing behind), and a
    guard whose rows another client changed since aborts it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, target: str) -> None:
        self._con = con
        self._target = target
        self._steps: list[str] = []  # writes and temporary tables, in the order the block made them
        self._guards: list[str] = []  # each with the temporary tables its read named, created first
        self._writes = 0
        self._registered: dict[str, str] = {}

    def pending_writes(self) -> int:
        return self._writes

    def _run(self, text: str) -> None:
        try:
            self._con.execute("from quack_query(?, ?)", [self._target, text])
        except duckdb.IOException:  # measured: a refused or dropped connection to the server
            raise StoreUnavailable(self._target) from None
        except duckdb.Error as e:
            raise _server_error(e) from e

    def _speculative(self, statement: str) -> str:
        return "; ".join(["begin", *self._steps, statement, "rollback"]) if self._steps else statement

    def execute(
        self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> QuackTransaction:
        if _TRANSACTION_CONTROL.fullmatch(sql):
            return self
        text = render(sql, parameters).strip().rstrip(";")
        if _is_read(text):
            if _NAMES_A_TABLE.search(text):  # `select current_timestamp` reads no row: nothing to guard
                self._guard(text)
            self._run(self._speculative(text))
            return self
        m = _INSERT_RETURNING_ID.fullmatch(text)
        if m:
            new_id = self._next_id(m.group("table"))
            text = f"insert into {m.group('table')} (id, {m.group('cols')}) values ({new_id}, {m.group('values')})"
            self._con.execute("select ?::bigint as id", [new_id])
        elif re.search(r"\breturning\b", text, re.I):
            raise StoreError(
                f"served store: only `insert … returning id` can run in a transaction: {sql[:80]!r}"
            )
        else:
            self._con.execute("select null::bigint as Count where false")  # known only at commit
        self._steps.append(text)
        self._writes += 1
        return self

    def _guard(self, read: str) -> None:
        """Digest the rows `read` returns now, before the read itself: a change in between makes the guard
        fail at commit (a refused save, never a lost update)."""
        tables = list(self._registered.values())
        self._run(
            "; ".join(["begin", *tables, _digest_sql(read), "rollback"]) if tables else _digest_sql(read)
        )
        row = self._con.fetchone()
        count, digest = (int(row[0]), int(row[1])) if row else (0, 0)
        self._guards.extend([*tables, _guard_sql(read, count, digest)])

    def _next_id(self, table: str) -> int:
        self._run(
            "select column_default from duckdb_columns() where table_name = "
            f"{_literal(table)} and column_name = 'id'"
        )
        row = self._con.fetchone()
        m = _SEQUENCE_DEFAULT.search(str(row[0])) if row else None
        if not m:
            raise StoreError(
                f"served store: {table}.id has no sequence default, so its id cannot be taken first"
            )
        self._run(f"select nextval({_literal(m.group('seq'))})")
        got = self._con.fetchone()
        assert got is not None
        return int(got[0])

    def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> QuackTransaction:
        for row in parameters:
            self.execute(sql, row)
        return self

    def register(self, name: str, table: Any) -> QuackTransaction:
        """A local table (Arrow or pandas) the block's statements name: created as a temporary table in the same
        server transaction (`_temp_table`)."""
        create = _temp_table(self._con, name, table)
        self._steps.append(create)
        self._registered[name] = create
        return self

    def unregister(self, name: str) -> QuackTransaction:
        if self._registered.pop(name, None) is not None:
            self._steps.append(f"drop table if exists temp.{name}")
        return self

    def sql(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> duckdb.DuckDBPyRelation:
        text = render(query, params).strip().rstrip(";")
        if not _is_read(text):
            raise StoreError(f"served store: .sql() in a transaction only reads: {query[:80]!r}")
        self._guard(text)
        return self._con.sql(
            f"from quack_query({_literal(self._target)}, {_literal(self._speculative(text))})"
        )

    def commit(self) -> None:
        # Guards first, each against the committed store as the read found it (with the temporary tables the
        # read named): another client's commit since then fails one, and the whole text with it.
        self._run("; ".join(["begin", *self._guards, *self._steps, "commit"]))
        self._steps.clear()
        self._guards.clear()
        self._writes = 0

    def cursor(self) -> QuackTransaction:
        return self

    def close(self) -> None:
        self._con.close()

    def __getattr__(self, name: str) -> Any:  # fetchall, fetchone, df, description, ...
        return getattr(self._con, name)


def _server_error(e: duckdb.Error) -> BaseException:
    """The server's error as the app's code expects it: Quack returns every server error as InvalidInputException
    (measured), so conflicts and constraint violations are told apart by their text."""
    text = _first(e).lower()  # the message, not the statement quoted under it (`… on conflict do nothing`)
    if _GUARD_MARK in text or "conflict" in text:
        return WriteConflict()
    if "constraint" in text or "duplicate key" in text:
        return duckdb.ConstraintException(_first(e))
    return e


def _temp_table(con: duckdb.DuckDBPyConnection, name: str, table: Any) -> str:
    """`create temp table NAME …` holding the rows of a local Arrow or pandas table, rendered as DuckDB literals
    and cast to the local column types. Quack cannot ship a table to the server, and a server connection lasts one
    `quack_query` text, so the statement travels in the same text as those that read the table."""
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise StoreError(f"served store: cannot register a table named {name!r}")
    local = con.cursor()
    try:
        local.register("_served_rows", table)
        columns = local.execute("describe _served_rows").fetchall()
        rows = local.execute("from _served_rows").fetchall()
    finally:
        local.close()
    names = ['"' + str(c[0]).replace('"', '""') + '"' for c in columns]
    if not rows:
        return f"create or replace temp table {name} ({', '.join(f'{n} {c[1]}' for c, n in zip(columns, names, strict=True))})"
    values = ", ".join("(" + ", ".join(str(duckdb.ConstantExpression(v)) for v in row) + ")" for row in rows)
    casts = ", ".join(f"c{i}::{c[1]} as {n}" for i, (c, n) in enumerate(zip(columns, names, strict=True)))
    cols = ", ".join(f"c{i}" for i in range(len(columns)))
    return f"create or replace temp table {name} as select {casts} from (values {values}) v({cols})"


def _literal(value: str) -> str:
    return str(duckdb.ConstantExpression(value))


def parse_target(target: str) -> tuple[str, int]:
    """('127.0.0.1', 9494) from 'quack:127.0.0.1:9494'; a one-line error naming the value otherwise."""
    m = _TARGET.fullmatch(target.strip())
    if not m or not 0 < int(m.group("port")) < 65536:
        raise StoreError(
            f"THREAT_DB={target!r}: a served store is named quack:HOST:PORT (e.g. quack:127.0.0.1:9494)"
        )
    return m.group("host"), int(m.group("port"))


def token_from_secrets(path: Path | None = None) -> str:
    """The store server's token: `[store] token` in the secrets file (THREAT_SECRETS or .streamlit/secrets.toml)."""
    p = path or Path(os.environ.get("THREAT_SECRETS") or DEFAULT_SECRETS)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise StoreError(
            f"{p}: no secrets file; the served store needs [store] token = '...' there"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise StoreError(f"{p}: not valid TOML ({e})") from None
    token = data.get("store", {}).get("token") if isinstance(data.get("store"), dict) else None
    if not isinstance(token, str) or len(token) < 16:
        raise StoreError(f"{p}: [store] token must be a string of at least 16 characters")
    return token


def load_quack(con: duckdb.DuckDBPyConnection) -> None:
    """Load the Quack extension from its PyPI wheel (offline); a clear error outside the served environment."""
    try:
        from duckdb_extensions import import_extension
    except ImportError:
        raise StoreError(
            f"the served store needs DuckDB {_QUACK_DUCKDB} with the Quack extension: run it from .venv-served "
            f"(`make served-env`); this environment has DuckDB {duckdb.__version__}"
        ) from None
    import_extension("httpfs")
    import_extension("quack")
    con.execute("load httpfs")
    con.execute("load quack")


_QUACK_DUCKDB = "1.5.5"


class ServedStore(Store):
    """A client of the store server, with the Store interface the app and CLI use."""

    def __init__(self, target: str, *, token: str | None = None) -> None:
        host, port = parse_target(target)
        self.path = Path(target)
        self.target = target
        self.read_only = False
        self.generation = 0
        self.record_generation = 0
        self.hardened = False
        self.closed = False
        self._lock = threading.Lock()
        self._hold = None
        self._versioned = True
        self.db = duckdb.connect(":memory:", config=duckdb_config())
        load_quack(self.db)
        secret = token if token is not None else token_from_secrets()
        try:
            # Bound, so the token never appears in a query log; scoped to this server only.
            self.db.execute(
                "create secret threat_store (type quack, token ?, scope ?)", [secret, f"quack:{host}:{port}"]
            )
            version = self._schema_version()
        except duckdb.Error as e:
            self.db.close()
            raise StoreError(
                f"the store server at {target} did not answer ({_first(e)}); start it with "
                "`python -m analytics serve` and check the token in the secrets file"
            ) from None
        known = load_migrations()[-1].version
        if version != known:
            self.db.close()
            raise StoreError(
                f"the store server at {target} has schema version {version}, this app expects {known}: "
                "run the same release on the server and the app"
            )

    def _schema_version(self) -> int:
        row = self.cursor().execute("select coalesce(max(version), 0) from schema_version").fetchone()
        return int(row[0]) if row else 0

    def schema_version(self) -> int:
        return self._schema_version()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        # Typed as DuckDB's cursor: QuackCursor answers the same calls (execute, fetch*, df, sql).
        return QuackCursor(self.db.cursor(), self.target)  # type: ignore[return-value]

    def data_version(self) -> tuple[int, int]:
        """The version row every replica sees (migration 015): bumped by every replica's writes."""
        row = (
            self.cursor()
            .execute(
                "select max(version), coalesce(max(version) filter (where records_changed), 0) from data_versions"
            )
            .fetchone()
        )
        if not row or row[0] is None:
            return 0, 0
        return int(row[0]), int(row[1])

    @contextmanager
    def transaction(
        self, *, changes_data: bool = True, changes_records: bool = True
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing writes through the server (see the module docstring): the block's writes are kept
        here and sent at the end as one text, `BEGIN; …; COMMIT`, that the server runs as one transaction, with
        each read's guard at the place the read was made and the version row bumped before the COMMIT. A guard
        that finds a read's rows changed since (another replica committed in between) aborts the whole text:
        WriteConflict, nothing saved."""
        tx = QuackTransaction(self.db.cursor(), self.target)
        try:
            yield tx  # type: ignore[misc]
            if tx.pending_writes():
                if changes_data:
                    tx.execute(_BUMP, [changes_records])
                tx.commit()
            elif changes_data:
                changes_data = False  # nothing was written: no version to bump, no cache to move
        finally:
            tx.close()
        if changes_data:
            with self._lock:
                self.generation += 1
                if changes_records:
                    self.record_generation += 1

    def harden(self) -> None:
        """The client's own connection: no file access, no ATTACH or settings changes once the secret is in
        place (Quack keeps working; measured)."""
        self.db.execute("set enable_external_access = false")
        self.db.execute("set lock_configuration = true")
        self.hardened = True

    def close(self) -> None:
        self.db.close()
        self.closed = True


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def serve(db: Path, listen: str, *, secrets: Path | None = None, ready: threading.Event | None = None) -> int:
    """`python -m analytics serve`: hold the store file (migrations applied on open), answer backup requests,
    and serve it over Quack on `listen` until SIGTERM or SIGINT."""
    from analytics.store import backup
    from analytics.store.database import open_store

    host, port = parse_target(listen)
    token = token_from_secrets(secrets)
    store = open_store(db)
    if store.schema_version() < DATA_VERSION_MIGRATION:
        raise StoreError(f"{db}: migrations did not reach {DATA_VERSION_MIGRATION}")
    load_quack(store.db)
    store.db.execute(
        "call quack_serve(?, token := ?, allow_other_hostname := ?)",
        [f"quack:{host}:{port}", token, host not in ("localhost", "127.0.0.1", "[::1]")],
    )
    # Quack stops answering with enable_external_access off, so the server keeps it on and locks its settings;
    # the clients harden their own connections (ServedStore.harden).
    store.db.execute("set lock_configuration = true")
    store.hardened = True
    backup.serve_backup_requests(store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"serving {db} on quack:{host}:{port}", flush=True)
    if ready is not None:
        ready.set()
    stop.wait()
    store.db.execute("checkpoint")
    store.close()
    return 0
