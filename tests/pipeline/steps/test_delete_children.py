from pipeline.keys import EXISTING
from pipeline.steps import DeleteChildren
from pipeline.storage import Storage
from stigmer_sessions import SessionController, SessionId
from tests.conftest import RunStep, make_session


def test_deletes_the_sessions_messages_only(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    a, b = controller.create(make_session("a")), controller.create(make_session("b"))
    for s in (a, b):
        for i in range(3):
            controller.append_message(s.metadata.id, "user", f"m{i}")
    run_step(DeleteChildren(), SessionId(), values={EXISTING: a})
    assert store.read(lambda txn: [(k, p, n) for k, p, n in txn.children.parents()]) == [
        ("session", b.metadata.id, 3)
    ]
