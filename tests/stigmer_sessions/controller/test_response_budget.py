"""SessionConfig.max_response_bytes reaches every paged operation of the controller."""

from __future__ import annotations

import threading

from pipeline.listing import MIN_RESPONSE_BYTES
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.config import SessionConfig
from tests.conftest import make_session

BLOB = 30_000  # three of these pass the minimum budget, two do not


def test_every_paged_operation_uses_the_configured_budget(store: Storage) -> None:
    sessions = SessionController(store=store, config=SessionConfig(max_response_bytes=MIN_RESPONSE_BYTES))
    ids = []
    for i in range(5):
        s = make_session(f"s{i}", agent="ain-9")
        s.metadata.annotations["blob"] = "a" * BLOB
        ids.append(sessions.create(s).metadata.id)
    for i in range(5):
        sessions.append_message(ids[0], "user", f"{i}" * BLOB)

    assert len(sessions.list(page_size=50).entries) == 2
    assert len(sessions.list_by_agent(agent_id="ain-9").entries) == 2
    assert len(sessions.list_changes(page_size=1000).changes) == 2
    assert len(sessions.list_messages(session_id=ids[0]).messages) == 2
    resumed = sessions.resume(ids[0])
    assert [m.sequence for m in resumed.messages] == [5] and resumed.earlier_page_token
    # events() pages through it all, each change once
    assert [c.revision for c in sessions.events()] == list(range(1, 11))
    # watch batches use the budget too, and still deliver everything in order
    stop = threading.Event()
    items = sessions.watch(stop=stop, bookmark_interval_s=60)
    watched = [next(items).change.revision for _ in range(10)]
    stop.set()
    assert watched == list(range(1, 11))
