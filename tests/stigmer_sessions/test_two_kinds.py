"""Two resource kinds on one store: the shared change log keeps each kind's changes apart.

A second kind ("note") reuses the Session message and SessionChange under another kind
name, written by a small generic pipeline (Persist + AppendEvent), so the sessions' list,
watch, export and import must tell the kinds apart by the log itself, not by message type.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

from pipeline import events, maintenance
from pipeline.context import RequestContext
from pipeline.pipeline import Pipeline
from pipeline.resource import ResourceKind
from pipeline.steps import AppendEvent, Persist
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import Session, SessionChange
from stigmer_sessions.resource import SESSION
from tests.conftest import OpenStore, make_session

NOTE: ResourceKind[Session] = ResourceKind(
    name="note",
    kind="Note",
    api_version="test.stigmer.ai/v1",
    id_prefix="not",
    message_type=Session,
    event_type=SessionChange,
    event_resource_field="session",
)


@dataclass(frozen=True)
class _GiveId:
    """Reads ``ctx.new_state``; gives it an id (the note's own, in the note's namespace)."""

    note_id: str

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx.new_state.metadata.id = self.note_id


def add_note(storage: Storage, note_id: str, org: str = "acme") -> None:
    note = make_session(note_id, org=org, slug=note_id)  # valid: import checks every record
    create: Pipeline[Session] = Pipeline(
        "note.create", [_GiveId(note_id), Persist(), AppendEvent()], write=True
    )
    create.execute(storage, note, kind=NOTE)


def populate(controller: SessionController) -> list[str]:
    """Sessions and notes interleaved in one log; returns the session ids."""
    ids = []
    for i in range(3):
        add_note(controller.store, f"not-{i}")
        session = controller.create(make_session(f"s{i}"))
        ids.append(session.metadata.id)
        add_note(controller.store, f"not-{i}b")
        controller.append_message(session.metadata.id, "user", "hi")
    return ids


def session_revisions(controller: SessionController, **filters: Any) -> list[int]:
    return [c.revision for c in controller.list_changes(page_size=100, **filters).changes]


def test_list_changes_shows_only_the_sessions_changes(controller: SessionController) -> None:
    ids = populate(controller)
    changes = controller.list_changes(page_size=100).changes
    assert [c.resource_kind for c in changes] == ["session"] * 6  # 3 creates + 3 message updates
    assert {c.resource_id for c in changes} == set(ids)
    assert session_revisions(controller, org="acme") == [c.revision for c in changes]
    assert session_revisions(controller, session_id="not-0") == []  # a note id is no session's
    # ...while the notes are all there, under their own kind
    notes = controller.store.read(lambda tx: list(events.scan(tx, SessionChange, kind="note")))
    assert [c.resource_id for c in notes] == ["not-0", "not-0b", "not-1", "not-1b", "not-2", "not-2b"]


def test_watch_delivers_only_the_sessions_changes(controller: SessionController) -> None:
    ids = populate(controller)
    stop = threading.Event()
    seen: list[SessionChange] = []
    for item in controller.watch(after_revision=0, stop=stop, bookmark_interval_s=0.01):
        if not item.HasField("change"):
            break  # caught up: the bookmark follows the last change
        seen.append(item.change)
    stop.set()
    assert [c.resource_kind for c in seen] == ["session"] * 6
    assert [c.resource_id for c in seen][::2] == ids


def test_export_writes_each_change_once_and_imports_again(
    controller: SessionController, open_store: OpenStore
) -> None:
    populate(controller)
    out = io.StringIO()
    counts = maintenance.export(controller.store, [SESSION, NOTE], out)
    assert counts["changes"] == 12  # 6 session changes and 6 note changes, each once
    copy = open_store()
    maintenance.import_(copy, [SESSION, NOTE], io.StringIO(out.getvalue()).readlines())
    with SessionController(store=copy) as restored:
        assert restored.list_changes(page_size=100) == controller.list_changes(page_size=100)
        sessions = restored.kinds[0]  # as served: on a shared store with every optional index
    assert copy.read(lambda tx: list(events.scan(tx, SessionChange, kind="note"))) == controller.store.read(
        lambda tx: list(events.scan(tx, SessionChange, kind="note"))
    )
    assert copy.check([sessions, NOTE]).ok


def test_the_session_controller_exports_and_imports_only_sessions(
    controller: SessionController, open_store: OpenStore
) -> None:
    populate(controller)
    out = io.StringIO()
    assert controller.export(out)["changes"] == 6
    with SessionController(store=open_store()) as restored:
        restored.import_(io.StringIO(out.getvalue()).readlines())
        assert restored.list_changes(page_size=100) == controller.list_changes(page_size=100)
        # The notes' revisions are absent, not lost: the check (which cannot tell) names them.
        assert restored.check().problems == [
            "change log: 6 revisions missing between 1 and 12: 1, 3, 5, 7, 9, 11"
        ]
