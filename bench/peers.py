"""The peer section: our embedded store against the session stores an agent developer would
pick instead, on the same workload, all durable (``python -m bench --only peers``).

Peers (the optional extra ``bench-peers``): Google ADK's ``DatabaseSessionService`` on SQLite
(aiosqlite), OpenAI Agents' ``SQLiteSession`` on a file, and LangGraph's ``SqliteSaver``. The
peers are imported only here and only through :func:`importlib.import_module`, so the rest of
the suite (and mypy) never needs them; without them the section is one line saying so.

Fairness rules, because a ratio is only as honest as its workload:

* **Durable everywhere**: every acknowledged write is on disk before the call returns. Ours
  is ``LmdbStorage(dir, durable=True)`` (fsync per commit, group commit on); each SQLite peer
  runs with ``PRAGMA synchronous=FULL`` set explicitly on every connection it opens, in the
  journal mode the library itself picks (read back from the connection and printed: a
  library's defaults, not ours, are what its users get).
* **Same workload, interleaved**: round k runs every store's write workload once, in an order
  rotated by k, so drift (a neighbour's load, a growing file) hits every store alike; reads
  run in rounds of their own after the writes, on the stores the writes built. Throughput
  is the median of the rounds; p50 is over every call.
* **Async APIs** (ADK, OpenAI) run on one event loop per store, each awaited call timed.
* LangGraph keeps a conversation as checkpoints, so an append is one ``put`` of a checkpoint
  holding the whole list so far: a lower bound on its real cost (a graph step also reads the
  previous checkpoint and writes pending writes).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import itertools
import sqlite3
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.suite import session
from pipeline.storage.lmdb import LmdbStorage
from stigmer_sessions import SessionController

TITLE = "Peers: the session stores agent developers use today (all durable; same workload)"
OURS = "stigmer-sessions"
#: distribution -> a module it must provide (the extra is complete only with all of them).
REQUIRED = {
    "google-adk[db]": "google.adk.sessions.database_session_service",
    "aiosqlite": "aiosqlite",
    "openai-agents": "agents.memory.sqlite_session",
    "langgraph-checkpoint-sqlite": "langgraph.checkpoint.sqlite",
}


def missing() -> list[str]:
    """The distributions of the ``bench-peers`` extra that cannot be imported here."""
    out = []
    for dist, module in REQUIRED.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # a parent package is missing
            found = False
        if not found:
            out.append(dist)
    return out


def skip_line(absent: Sequence[str]) -> str:
    return (
        f"Peer comparison skipped: the `bench-peers` extra is not installed (missing: {', '.join(absent)}); "
        "`pip install -e '.[bench-peers]'` and run `python -m bench --only peers`."
    )


# --- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Sizes per round; totals are ``rounds`` times these. The defaults are the issue's
    workload: 2,000 creates per store (half by 1 caller, half by 16), 100 messages to each of
    100 sessions, batches of 100, a 10,000-message history."""

    rounds: int = 5
    creates: int = 200  # per round, by 1 caller
    creates_many: int = 200  # per round, by ``callers`` callers
    callers: int = 16
    sessions: int = 100  # append targets
    per_session: int = 20  # messages to each per round
    batches: int = 10  # batch appends per round, each to a session of its own
    batch: int = 100  # messages per batch
    long: int = 10_000  # the long history's length
    latest: int = 100  # the page read from histories
    list_page: int = 50
    reads: int = 40  # calls per read op per round, at most ...
    read_budget_s: float = 0.5  # ... and no more once this long (at least MIN_READS calls)

    @property
    def created(self) -> int:
        return self.rounds * (self.creates + self.creates_many)


QUICK = Plan(
    rounds=2,
    creates=30,
    creates_many=32,
    sessions=8,
    per_session=5,
    batches=3,
    batch=100,
    long=1_000,
    reads=10,
    read_budget_s=0.2,
)


def text(i: int) -> str:
    """A message of ~200 B, as in the rest of the suite."""
    return f"message {i}: " + "x" * 200


def role(i: int) -> str:
    return "user" if i % 2 else "assistant"


# --- the stores ---------------------------------------------------------------------------


class Store:
    """One store under test: seeded in ``__init__`` (untimed), then driven op by op. A
    method returning ``None`` (or an op left at the default) means the store has no such
    operation; ``notes`` say what an op maps to when it is not the obvious call."""

    name = ""
    is_async = False
    loop: asyncio.AbstractEventLoop | None = None

    def __init__(self, root: Path, plan: Plan) -> None:
        self.plan = plan
        self.notes: dict[str, str] = {}

    def settings(self) -> str:
        raise NotImplementedError

    def op(self, key: str) -> Callable[..., Any] | None:
        """The per-call function for op ``key`` (sync, or a coroutine function when
        ``is_async``), or None when the store cannot do it."""
        return getattr(self, f"do_{key}", None)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


class Ours(Store):
    """``SessionController(store=LmdbStorage(dir, durable=True))``: group commit on, the
    benchmark's usual session (2 tags, 2 labels, spec metadata)."""

    name = OURS

    def __init__(self, root: Path, plan: Plan) -> None:
        super().__init__(root, plan)
        path = root / "ours"
        self._ids = itertools.count(1)
        # Seeding runs relaxed (an fsync per seeded message would only cost time), then the
        # store is reopened durable for everything timed.
        with LmdbStorage(path, durable=False) as seed, SessionController(store=seed) as c:
            self.targets = [c.create(session(next(self._ids))).metadata.id for _ in range(plan.sessions)]
            self.batch_targets = [c.create(session(next(self._ids))).metadata.id for _ in range(plan.batches)]
            self.long = c.create(session(next(self._ids))).metadata.id
            for i in range(plan.long):
                c.append_message(self.long, role(i), text(i))
        self.store = LmdbStorage(path, durable=True)
        self.c = SessionController(store=self.store)
        self._lock = threading.Lock()
        self.batching = hasattr(SessionController, "append_messages")

    def settings(self) -> str:
        gc = "on" if getattr(self.store, "group_commit", None) is not None else "off"
        return f"`LmdbStorage(dir, durable=True)`: fsync per commit, group commit {gc}, embedded"

    def do_create(self, i: int) -> None:
        with self._lock:  # session numbers must be unique across caller threads
            n = next(self._ids)
        self.c.create(session(n))

    def do_append(self, k: int, i: int) -> None:
        self.c.append_message(self.targets[k], role(i), text(i))

    def op(self, key: str) -> Callable[..., Any] | None:
        if key == "batch" and not self.batching:
            return None
        return super().op(key)

    def do_batch(self, k: int, i: int) -> None:
        messages = [(role(i + j), text(i + j)) for j in range(self.plan.batch)]
        self.c.append_messages(self.batch_targets[k], messages)

    def do_resume(self) -> int:
        return len(self.c.resume(self.targets[0], page_size=self.plan.latest).messages)

    def do_latest(self) -> int:
        return len(self.c.resume(self.long, page_size=self.plan.latest).messages)

    def do_list(self) -> int:
        return len(self.c.list(page_size=self.plan.list_page).entries)

    def close(self) -> None:
        self.c.close()
        self.store.close()


def _pragmas(conn: Any) -> str:
    """journal_mode and synchronous as the connection reports them (2 = FULL)."""
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={journal}, synchronous={names.get(sync, sync)}"


def _full_sync(dbapi_connection: Any, _record: object) -> None:
    """SQLAlchemy ``connect`` listener: every pooled connection syncs each commit."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


class Adk(Store):
    """Google ADK ``DatabaseSessionService("sqlite+aiosqlite:///file")``: create_session,
    append_event, get_session, list_sessions. It leaves SQLite's journal mode at the default
    (a rollback journal; it only sets ``foreign_keys=ON``); we add ``synchronous=FULL``."""

    name = "Google ADK DatabaseSessionService (SQLite)"
    is_async = True

    def __init__(self, root: Path, plan: Plan) -> None:
        super().__init__(root, plan)
        self.loop = asyncio.new_event_loop()
        sessions = importlib.import_module("google.adk.sessions.database_session_service")
        base = importlib.import_module("google.adk.sessions.base_session_service")
        sqlalchemy = importlib.import_module("sqlalchemy")
        self._event_cls = importlib.import_module("google.adk.events").Event
        self._types = importlib.import_module("google.genai.types")
        self._config = base.GetSessionConfig(num_recent_events=plan.latest)
        self.svc = sessions.DatabaseSessionService(db_url=f"sqlite+aiosqlite:///{root / 'adk.db'}")
        sqlalchemy.event.listen(self.svc.db_engine.sync_engine, "connect", _full_sync)
        self._ids = itertools.count(1)
        self.notes = {
            "list": f"list_sessions returns all {plan.created:,}+ (no paging)",
            "batch": "no batch API",
        }
        self.loop.run_until_complete(self._seed(plan))

    async def _seed(self, plan: Plan) -> None:
        self.targets = [await self._create() for _ in range(plan.sessions)]
        self.long = await self._create()
        # The long history goes in as one ORM transaction (append_event 10,000 times would
        # take the run minutes); get_session reads it back like any other.
        schema = self.svc._get_schema_classes()
        async with self.svc.database_session_factory() as sql:
            sql.add_all([schema.StorageEvent.from_event(self.long, self._event(i)) for i in range(plan.long)])
            await sql.commit()
        self.long_id = self.long.id
        self._settings = await self._read_settings()

    async def _read_settings(self) -> str:
        sqlalchemy = importlib.import_module("sqlalchemy")
        async with self.svc.db_engine.connect() as conn:
            journal = (await conn.execute(sqlalchemy.text("PRAGMA journal_mode"))).scalar()
            sync = (await conn.execute(sqlalchemy.text("PRAGMA synchronous"))).scalar()
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        return f"journal_mode={journal}, synchronous={names.get(sync, sync)}"

    def settings(self) -> str:
        return f"sqlite+aiosqlite file; {self._settings} (set on every pooled connection)"

    def _event(self, i: int) -> Any:
        t = self._types
        return self._event_cls(
            author="user" if i % 2 else "model",
            invocation_id=f"inv-{i}",
            content=t.Content(role="user" if i % 2 else "model", parts=[t.Part(text=text(i))]),
        )

    async def _create(self) -> Any:
        n = next(self._ids)
        state = {"team": "bench", "env": "prod", "subject": "A conversation", "thread_id": f"thread-{n}"}
        return await self.svc.create_session(app_name="bench", user_id="u", state=state)

    async def do_create(self, i: int) -> None:
        await self._create()

    async def do_append(self, k: int, i: int) -> None:
        await self.svc.append_event(self.targets[k], self._event(i))

    async def do_resume(self) -> int:
        got = await self.svc.get_session(app_name="bench", user_id="u", session_id=self.targets[0].id)
        return len(got.events)

    async def do_latest(self) -> int:
        got = await self.svc.get_session(
            app_name="bench", user_id="u", session_id=self.long_id, config=self._config
        )
        return len(got.events)

    async def do_list(self) -> int:
        return len((await self.svc.list_sessions(app_name="bench", user_id="u")).sessions)

    def close(self) -> None:
        assert self.loop is not None
        self.loop.run_until_complete(self.svc.close())
        super().close()


def _durable_sqlite_session_class() -> Any:
    """``SQLiteSession`` with ``synchronous=FULL`` added to the connection set-up it runs on
    every connection it opens (it sets ``journal_mode=WAL`` there itself)."""
    base = importlib.import_module("agents.memory.sqlite_session").SQLiteSession

    def configure(conn: sqlite3.Connection) -> None:
        base._configure_connection(conn)
        conn.execute("PRAGMA synchronous=FULL")

    return type("DurableSQLiteSession", (base,), {"_configure_connection": staticmethod(configure)})


class OpenAi(Store):
    """OpenAI Agents ``SQLiteSession(session_id, file)``: add_items, get_items. A session
    exists once it has an item, so a create opens one and adds its first item."""

    name = "OpenAI Agents SQLiteSession"
    is_async = True

    def __init__(self, root: Path, plan: Plan) -> None:
        super().__init__(root, plan)
        self.loop = asyncio.new_event_loop()
        self.path = root / "openai.db"
        self.cls = _durable_sqlite_session_class()
        self.notes = {
            "create": "open a SQLiteSession and add its first item (its row exists only then)",
            "list": "no listing",
        }
        self.targets = [self.cls(f"t{k}", self.path) for k in range(plan.sessions)]
        self.batch_targets = [self.cls(f"b{k}", self.path) for k in range(plan.batches)]
        self.long = self.cls("long", self.path)
        self.loop.run_until_complete(self.long.add_items([self._item(i) for i in range(plan.long)]))
        self._ids = itertools.count(1)

    def settings(self) -> str:
        with closing(sqlite3.connect(self.path)) as probe:
            self.cls._configure_connection(probe)
            read = _pragmas(probe)
        return f"file; {read} (its own WAL, plus synchronous=FULL on each connection)"

    @staticmethod
    def _item(i: int) -> dict[str, str]:
        return {"role": role(i), "content": text(i)}

    async def do_create(self, i: int) -> None:
        s = self.cls(f"c{next(self._ids)}", self.path)
        await s.add_items([{"role": "system", "content": "A conversation about latency budgets"}])
        s.close()

    async def do_append(self, k: int, i: int) -> None:
        await self.targets[k].add_items([self._item(i)])

    async def do_batch(self, k: int, i: int) -> None:
        await self.batch_targets[k].add_items([self._item(i + j) for j in range(self.plan.batch)])

    async def do_resume(self) -> int:
        return len(await self.targets[0].get_items(limit=self.plan.latest))

    async def do_latest(self) -> int:
        return len(await self.long.get_items(limit=self.plan.latest))

    def close(self) -> None:
        for s in [*self.targets, *self.batch_targets, self.long]:
            s.close()
        super().close()


class LangGraph(Store):
    """LangGraph ``SqliteSaver`` on a file connection of ours (``check_same_thread=False``, as
    its docs show; it serialises callers with a lock). Create = ``put`` of an empty checkpoint
    for a new thread; append = ``put`` of a checkpoint holding the whole list so far."""

    name = "LangGraph SqliteSaver"

    def __init__(self, root: Path, plan: Plan) -> None:
        super().__init__(root, plan)
        saver_cls = importlib.import_module("langgraph.checkpoint.sqlite").SqliteSaver
        self._empty = importlib.import_module("langgraph.checkpoint.base").empty_checkpoint
        self.conn = sqlite3.connect(root / "langgraph.db", check_same_thread=False)
        self.conn.execute("PRAGMA synchronous=FULL")
        self.saver = saver_cls(self.conn)
        self.saver.setup()  # sets journal_mode=WAL
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.notes = {
            "append": "one checkpoint per message, holding the whole list so far (a lower bound)",
            "batch": "one checkpoint holding the list grown by the batch",
            "resume": "get_tuple (the latest checkpoint: the whole list)",
            "latest": f"get_tuple, then the last {plan.latest} of the list",
            "list": "list(None, limit=50): the newest checkpoints of any thread",
        }
        self.history: dict[str, list[dict[str, str]]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        for k in range(plan.sessions):
            self._put(f"t{k}", [])
        for k in range(plan.batches):
            self._put(f"b{k}", [])
        self._put("long", [self._item(i) for i in range(plan.long)])

    @staticmethod
    def _item(i: int) -> dict[str, str]:
        return {"role": role(i), "content": text(i)}

    def _put(self, thread: str, messages: list[dict[str, str]]) -> None:
        self.history[thread] = messages
        step = len(messages)
        checkpoint = self._empty()
        checkpoint["channel_values"] = {"messages": messages}
        checkpoint["channel_versions"] = {"messages": step + 1}
        config = self.configs.get(thread) or {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        metadata = {"source": "loop" if step else "input", "step": step}
        self.configs[thread] = self.saver.put(config, checkpoint, metadata, {"messages": step + 1})

    def settings(self) -> str:
        return f"file; {_pragmas(self.conn)} (WAL is its own setup; synchronous=FULL set by us)"

    def do_create(self, i: int) -> None:
        with self._lock:
            n = next(self._ids)
        self._put(f"c{n}", [])

    def do_append(self, k: int, i: int) -> None:
        thread = f"t{k}"
        self._put(thread, [*self.history[thread], self._item(i)])

    def do_batch(self, k: int, i: int) -> None:
        thread = f"b{k}"
        self._put(thread, [*self.history[thread], *(self._item(i + j) for j in range(self.plan.batch))])

    def _latest(self, thread: str) -> list[Any]:
        found = self.saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        return list(found.checkpoint["channel_values"]["messages"])

    def do_resume(self) -> int:
        return len(self._latest("t0")[-self.plan.latest :])

    def do_latest(self) -> int:
        return len(self._latest("long")[-self.plan.latest :])

    def do_list(self) -> int:
        return len(list(self.saver.list(None, limit=self.plan.list_page)))

    def close(self) -> None:
        self.conn.close()
        super().close()


# --- driving ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    key: str
    label: str
    callers: int = 1


def ops(plan: Plan) -> tuple[list[Op], list[Op]]:
    """(write ops, read ops) in the order they run within a round."""
    writes = [
        Op("create", "create a session, 1 caller"),
        Op("create", f"create a session, {plan.callers} callers", plan.callers),
        Op("append", "append one message (~200 B), 1 caller"),
        Op("batch", f"batch append of {plan.batch}, 1 caller"),
    ]
    history = plan.rounds * plan.per_session
    reads = [
        Op("resume", f"resume a {history}-message session"),
        Op("latest", f"latest {plan.latest} of a {plan.long:,}-message session"),
        Op("list", f"list {plan.list_page} of {plan.created:,}"),
    ]
    return writes, reads


def calls(op: Op, plan: Plan, k: int) -> list[tuple[Any, ...]]:
    """The arguments of each call op makes in round ``k``."""
    if op.key == "create":
        return [(i,) for i in range(plan.creates if op.callers == 1 else plan.creates_many)]
    if op.key == "append":  # message j to every session, then j + 1: agents interleave
        first = k * plan.per_session
        return [(s, j) for j in range(first, first + plan.per_session) for s in range(plan.sessions)]
    if op.key == "batch":
        return [(b, k * plan.batch) for b in range(plan.batches)]
    return [() for _ in range(plan.reads)]


@dataclass
class Tally:
    rates: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    @property
    def ops_per_s(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def p50_us(self) -> float:
        ordered = sorted(self.samples)
        return ordered[len(ordered) // 2] / 1000 if ordered else 0.0

    @property
    def p99_us(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000 if ordered else 0.0


def _record(tally: Tally, elapsed: float, samples: list[int], errors: list[str]) -> None:
    tally.samples += samples
    tally.errors += len(errors)
    if errors and not tally.first_error:
        tally.first_error = errors[0]
    if samples:
        tally.rates.append(len(samples) / elapsed)


MIN_READS = 5


class _Queue:
    """The calls still to make; with a budget, it runs dry once the budget is spent and at
    least MIN_READS calls were handed out (a read of 100 ms must not hold the run for 40)."""

    def __init__(self, args: list[tuple[Any, ...]], budget_s: float | None) -> None:
        self._todo = iter(args)
        self._given = 0
        self._deadline = None if budget_s is None else time.perf_counter() + budget_s

    def next(self) -> tuple[Any, ...] | None:
        if self._deadline is not None and self._given >= MIN_READS and time.perf_counter() > self._deadline:
            return None
        self._given += 1
        return next(self._todo, None)


def run_sync(
    fn: Callable[..., Any], args: list[tuple[Any, ...]], callers: int, budget_s: float | None = None
) -> tuple[float, list[int], list[str]]:
    """Every call in ``args`` by ``callers`` threads pulling from one queue; each call timed."""
    samples: list[int] = []
    errors: list[str] = []
    todo = _Queue(args, budget_s)
    lock = threading.Lock()
    clock = time.perf_counter_ns

    def work() -> None:
        while True:
            with lock:
                a = todo.next()
            if a is None:
                return
            t = clock()
            try:
                fn(*a)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            took = clock() - t
            with lock:
                samples.append(took)

    start = time.perf_counter()
    if callers == 1:
        work()
    else:
        threads = [threading.Thread(target=work) for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return time.perf_counter() - start, samples, errors


def run_async(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[..., Awaitable[Any]],
    args: list[tuple[Any, ...]],
    callers: int,
    budget_s: float | None = None,
) -> tuple[float, list[int], list[str]]:
    """The async twin of :func:`run_sync`: ``callers`` tasks on the store's own loop."""
    samples: list[int] = []
    errors: list[str] = []
    todo = _Queue(args, budget_s)
    clock = time.perf_counter_ns

    async def work() -> None:
        while (a := todo.next()) is not None:
            t = clock()
            try:
                await fn(*a)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            samples.append(clock() - t)

    async def all_of() -> None:
        await asyncio.gather(*(work() for _ in range(callers)))

    start = time.perf_counter()
    loop.run_until_complete(all_of())
    return time.perf_counter() - start, samples, errors


def drive(stores: list[Store], plan: Plan) -> dict[tuple[str, str], Tally]:
    """Write rounds, then read rounds; round k rotates the store order by k."""
    writes, reads = ops(plan)
    tallies: dict[tuple[str, str], Tally] = {}
    for phase, budget in ((writes, None), (reads, plan.read_budget_s)):
        for k in range(plan.rounds):
            order = stores[k % len(stores) :] + stores[: k % len(stores)]
            for store in order:
                for op in phase:
                    fn = store.op(op.key)
                    tally = tallies.setdefault((store.name, op.label), Tally())
                    if fn is None:
                        continue
                    args = calls(op, plan, k)
                    if store.is_async:
                        assert store.loop is not None
                        _record(tally, *run_async(store.loop, fn, args, op.callers, budget))
                    else:
                        _record(tally, *run_sync(fn, args, op.callers, budget))
    return tallies


# --- the section --------------------------------------------------------------------------

PEERS: tuple[type[Store], ...] = (Adk, OpenAi, LangGraph)


def section(tmp: str, quick: bool, *, plan: Plan | None = None) -> str:
    """Run the comparison and return its markdown (without the title); one line when the
    extra is not installed."""
    absent = missing()
    if absent:
        line = skip_line(absent)
        print(line)
        return line
    plan = plan or (QUICK if quick else Plan())
    root = Path(tmp) / "peers"
    root.mkdir(parents=True, exist_ok=True)
    stores: list[Store] = [Ours(root, plan), *(cls(root, plan) for cls in PEERS)]
    try:
        tallies = drive(stores, plan)
        settings = [(s.name, s.settings()) for s in stores]
        notes = {(s.name, key): note for s in stores for key, note in s.notes.items()}
        batching = isinstance(stores[0], Ours) and stores[0].batching
    finally:
        for s in stores:
            s.close()
    writes, reads = ops(plan)
    parts = [_note(plan, settings)]
    if not batching:
        line = (
            f"batch append of {plan.batch}: our row is skipped "
            "(SessionController.append_messages is not in this build)."
        )
        print(line)
        parts.append(line)
    parts.append(_table([*writes, *reads], [s.name for s in stores], tallies, notes))
    parts.append("Targets (same-run ratios, ours ÷ theirs):\n\n" + _targets(plan, tallies))
    return "\n\n".join(parts)


def _note(plan: Plan, settings: list[tuple[str, str]]) -> str:
    lines = [
        f"{plan.rounds} interleaved rounds (round k runs every store's workload once, order rotated "
        f"by k; reads in rounds of their own after the writes); ops/s = median of the rounds, p50 "
        f"over every call; ratio = {OURS} ops/s ÷ the peer's. Per round: {plan.creates} creates by 1 "
        f"caller and {plan.creates_many} by {plan.callers} (threads, or tasks on the store's event "
        f"loop), {plan.per_session} messages of ~200 B to each of {plan.sessions} sessions (one call "
        f"per message), {plan.batches} batches of {plan.batch}, {plan.reads} calls of each read (fewer, "
        f"but at least {MIN_READS}, once {plan.read_budget_s:g} s are spent). "
        "Every store runs in this one process (pinned alike). Versions: "
        + ", ".join(
            f"{d} {_version(d)}" for d in ("google-adk", "openai-agents", "langgraph-checkpoint-sqlite")
        )
        + ". Durable settings as read back from each store:",
        "",
    ]
    lines += [f"- {name}: {value}" for name, value in settings]
    return "\n".join(lines)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _table(
    all_ops: list[Op],
    names: list[str],
    tallies: dict[tuple[str, str], Tally],
    notes: dict[tuple[str, str], str],
) -> str:
    lines = [
        "| operation | store | ops/s | p50 µs | p99 µs | ours ÷ theirs | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for op in all_ops:
        ours = tallies.get((OURS, op.label), Tally())
        for name in names:
            t = tallies.get((name, op.label), Tally())
            note = notes.get((name, op.key), "")
            if t.errors:
                note = (note + "; " if note else "") + f"{t.errors} calls failed ({t.first_error[:80]})"
            if not t.rates:
                lines.append(f"| {op.label} | {name} | | | | | {note or 'not measured'} |")
                continue
            ratio = "" if name == OURS or not ours.rates else f"{ours.ops_per_s / t.ops_per_s:.2f}x"
            timing = f"{t.ops_per_s:,.0f} | {t.p50_us:,.0f} | {t.p99_us:,.0f}"
            lines.append(f"| {op.label} | {name} | {timing} | {ratio} | {note} |")
    return "\n".join(lines)


def ratio(tallies: dict[tuple[str, str], Tally], label: str, peer: str) -> float | None:
    ours, theirs = tallies.get((OURS, label)), tallies.get((peer, label))
    if not ours or not theirs or not ours.rates or not theirs.rates:
        return None
    return ours.ops_per_s / theirs.ops_per_s


def _targets(plan: Plan, tallies: dict[tuple[str, str], Tally]) -> str:
    writes, _ = ops(plan)
    one, many, append, batch = (op.label for op in writes)
    goals = [
        ("durable append of one message, 1 caller, vs OpenAI SQLiteSession", append, OpenAi.name, 1.5),
        ("durable append of one message, 1 caller, vs LangGraph SqliteSaver", append, LangGraph.name, 1.5),
        ("durable create, 1 caller, vs LangGraph SqliteSaver put", one, LangGraph.name, 1.0),
        (f"durable create, {plan.callers} callers, vs LangGraph SqliteSaver put", many, LangGraph.name, 3.0),
        (
            f"batch append of {plan.batch} vs OpenAI SQLiteSession.add_items of {plan.batch}",
            batch,
            OpenAi.name,
            1.0,
        ),
    ]
    lines = ["| target | goal | measured | |", "|---|---:|---:|---|"]
    for what, label, peer, goal in goals:
        got = ratio(tallies, label, peer)
        if got is None:
            lines.append(f"| {what} | ≥ {goal:.1f}x | | not measured |")
            continue
        verdict = "met" if got >= goal else f"missed by {(goal - got) / goal:.0%}"
        lines.append(f"| {what} | ≥ {goal:.1f}x | {got:.2f}x | {verdict} |")
    return "\n".join(lines)
