"""The documented migration path, LMDB -> PostgreSQL, as a user runs it: ``stigmer-sessions
export --data-dir DIR FILE`` then ``stigmer-sessions import --store postgresql://... FILE``.
Afterwards the two stores must answer every read the API has identically."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from grpc import StatusCode

from pipeline.errors import ResourceError
from stigmer_sessions import SessionController
from stigmer_sessions.api import (
    ApiResourceOwnerScope,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    ResumeSessionResponse,
    SessionChangeList,
)
from tests.backends import pg_schema
from tests.conftest import make_session, run_cli

ROOT = Path(__file__).resolve().parents[2]


def _fill(c: SessionController) -> list[str]:
    """Sessions of two orgs and three agents, with labels and tags; messages; transitions;
    updates; deletes; a compaction, so the retained change log starts past revision 1.
    Returns the ids of the sessions still there."""
    ids: list[str] = []
    for i in range(23):
        s = make_session(
            f"session {i}", org=("acme", "globex")[i % 2], agent=f"ain-{i % 3}", tags=("t", f"x{i % 4}")
        )
        s.metadata.labels["env"] = ("prod", "dev")[i % 2]
        if i % 3 == 0:
            s.metadata.labels["tier"] = "free"
        if i % 5 == 0:
            s.metadata.owner_scope = ApiResourceOwnerScope.identity_account
        ids.append(c.create(s, actor=f"user-{i % 2}").metadata.id)
    for n, session_id in enumerate(ids[:9]):
        for k in range(n + 1):
            c.append_message(session_id, ("user", "assistant")[k % 2], f"message {k} of {session_id}")
    c.transition(ids[1], "paused", actor="ops", reason="lunch")
    c.transition(ids[2], "completed", actor="ops")
    c.transition(ids[3], "archived")
    c.pin(ids[4])
    renamed = c.get(ids[5])
    renamed.metadata.name = "renamed"
    renamed.metadata.labels["env"] = "staging"
    c.update(renamed, actor="alice")
    for session_id in (ids[6], ids[10], ids[11]):
        c.delete(session_id, actor="bob")
    c.compact_changes(keep_revisions=40)
    return [i for i in ids if i not in (ids[6], ids[10], ids[11])]


def _pages(call: Callable[[str], Any]) -> list[Any]:
    """Every page of a paged read, tokens left out (they are opaque, per store)."""
    pages: list[Any] = []
    token = ""
    while True:
        page = call(token)
        token = page.next_page_token
        pages.append(_without_token(page))
        if not token:
            return pages


def _without_token(page: Message) -> Message:
    copy = type(page)()
    copy.CopyFrom(page)
    copy.ClearField("next_page_token")
    return copy


def _answer(read: Callable[[], Any]) -> Any:
    """What a read returns, or the code and message of the error it raises."""
    try:
        return read()
    except ResourceError as exc:
        return (exc.code, exc.message)


def _reads(c: SessionController, ids: list[str]) -> list[Any]:
    """Every read of the API, over filters, page sizes and the change log's window."""
    lists: list[dict[str, Any]] = [
        {"org": "acme"},
        {"org": "globex", "order_by": "create_time asc"},
        {"org": "acme", "tags": ["t", "x1"]},
        {"org": "globex", "label_selector": "env=dev,tier"},
        {"org": "acme", "label_selector": "env!=prod"},
        {"org": "acme", "owner_scope": ApiResourceOwnerScope.identity_account},
    ]
    out: list[Any] = []
    for filters in lists:
        for size in (1, 4, 50):
            out.append(_pages(partial(_list, c, ListSessionsRequest(page_size=size, **filters))))
    for agent in ("ain-0", "ain-1", "ain-2"):
        for size in (2, 50):
            by_agent = ListSessionsByAgentRequest(agent_id=agent, page_size=size, org="acme")
            out.append(_pages(partial(_list_by_agent, c, by_agent)))
    for session_id in [*ids, "ses-unknown"]:
        out.append(_answer(partial(c.get, session_id)))
        out.append(_answer(partial(c.resume, session_id, page_size=3)))
        out.append(_answer(partial(c.resume, session_id)))
        for newest in (False, True):
            messages = partial(_messages, c, session_id, newest)
            out.append(_answer(partial(_pages, messages)))
    current = c.list_changes(page_size=1).current_revision
    for after in (0, current - 45, current - 40, current - 10, current):
        for size in (1, 7, 1000):
            out.append(
                _answer(partial(_pages, partial(_changes, c, {"after_revision": after, "page_size": size})))
            )
    out.append(_answer(partial(_pages, partial(_changes, c, {"session_id": ids[1]}))))
    out.append(_answer(partial(_pages, partial(_changes, c, {"org": "globex", "page_size": 3}))))
    return out


def _list(c: SessionController, request: ListSessionsRequest, token: str) -> Any:
    request.page_token = token
    return c.list(request)


def _list_by_agent(c: SessionController, request: ListSessionsByAgentRequest, token: str) -> Any:
    request.page_token = token
    return c.list_by_agent(request)


def _messages(c: SessionController, session_id: str, newest_first: bool, token: str) -> Any:
    return c.list_messages(session_id=session_id, page_size=2, newest_first=newest_first, page_token=token)


def _changes(c: SessionController, fields: dict[str, Any], token: str) -> Any:
    return c.list_changes(page_token=token, **fields)


def test_export_from_lmdb_then_import_into_postgres_answers_every_read_identically(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SessionController(data) as lmdb_sessions:
        ids = _fill(lmdb_sessions)
    dump = tmp_path / "sessions.jsonl"
    exported = run_cli("export", "--data-dir", str(data), str(dump))
    assert exported.returncode == 0, exported.stderr
    with pg_schema() as dsn:
        imported = run_cli("import", "--store", dsn, str(dump))
        assert imported.returncode == 0, imported.stderr
        checked = run_cli("check", "--store", dsn)
        assert checked.returncode == 0 and checked.stdout.startswith("ok: 20 sessions"), checked.stdout
        with SessionController(data) as lmdb_sessions, SessionController(store=dsn) as pg_sessions:
            expected = _reads(lmdb_sessions, ids)
            got = _reads(pg_sessions, ids)
            # the reads are not trivially equal: pages of sessions, histories, changes, errors
            assert sum(len(page.entries) for page in expected[0]) == 10  # acme: 12 created, 2 deleted
            assert sum(len(r.messages) for r in expected if isinstance(r, ResumeSessionResponse)) > 30
            assert any(r == (StatusCode.NOT_FOUND, "session 'ses-unknown' not found") for r in expected)
            change_pages = [
                r for r in expected if isinstance(r, list) and r and isinstance(r[0], SessionChangeList)
            ]
            assert max(sum(len(p.changes) for p in pages) for pages in change_pages) == 40
            assert len(got) == len(expected)
            for i, (want, have) in enumerate(zip(expected, got, strict=True)):
                assert have == want, f"read {i} differs"
            # and both keep going the same way: the next write gets the same revision
            a = lmdb_sessions.create(make_session("after the move"))
            b = pg_sessions.create(make_session("after the move"))
            changes = [
                s.list_changes(after_revision=s.list_changes().current_revision - 1)
                for s in (lmdb_sessions, pg_sessions)
            ]
            assert changes[0].changes[0].revision == changes[1].changes[0].revision
            assert a.metadata.slug == b.metadata.slug


def test_the_retained_change_window_survives_the_move(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with SessionController(data) as c:
        _fill(c)
        oldest = c.list_changes().oldest_revision
    assert oldest > 1  # the fill compacted: the export names its window
    dump = tmp_path / "sessions.jsonl"
    assert run_cli("export", "--data-dir", str(data), str(dump)).returncode == 0
    with pg_schema() as dsn:
        assert run_cli("import", "--store", dsn, str(dump)).returncode == 0
        with SessionController(store=dsn) as pg_sessions:
            assert pg_sessions.list_changes().oldest_revision == oldest
