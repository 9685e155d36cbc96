from typing import Any

import pytest

from pipeline.errors import InvalidArgument, NotFound
from pipeline.keys import EXISTING, RESPONSE
from stigmer_sessions import SessionController
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    ListSessionMessagesRequest,
    SessionMessageList,
    SessionMessageRole,
)
from stigmer_sessions.steps import AppendMessage, ListMessages
from tests.conftest import RunStep, make_session


@pytest.fixture
def session_id(controller: SessionController) -> str:
    s = controller.create(make_session())
    for i in range(1, 8):
        controller.append_message(s.metadata.id, "user", f"m{i}")
    return s.metadata.id


def page(run_step: RunStep, **fields: object) -> SessionMessageList:
    response = run_step(ListMessages(), ListSessionMessagesRequest(**fields), write=False)[RESPONSE]  # type: ignore[arg-type]
    assert isinstance(response, SessionMessageList)
    return response


def test_oldest_first_pages(run_step: RunStep, session_id: str) -> None:
    first = page(run_step, session_id=session_id, page_size=3)
    assert ([m.sequence for m in first.messages], first.total_size) == ([1, 2, 3], 7)
    second = page(run_step, session_id=session_id, page_size=3, page_token=first.next_page_token)
    assert [m.sequence for m in second.messages] == [4, 5, 6]
    third = page(run_step, session_id=session_id, page_size=3, page_token=second.next_page_token)
    assert ([m.sequence for m in third.messages], third.next_page_token) == ([7], "")


def test_newest_first_and_after_sequence(run_step: RunStep, session_id: str) -> None:
    newest = page(run_step, session_id=session_id, newest_first=True, page_size=4)
    assert [m.sequence for m in newest.messages] == [7, 6, 5, 4]
    rest = page(
        run_step, session_id=session_id, newest_first=True, page_size=4, page_token=newest.next_page_token
    )
    assert [m.sequence for m in rest.messages] == [3, 2, 1]
    assert [m.sequence for m in page(run_step, session_id=session_id, after_sequence=5).messages] == [6, 7]
    assert [
        m.sequence
        for m in page(run_step, session_id=session_id, after_sequence=5, newest_first=True).messages
    ] == [7, 6]


def test_missing_session_and_foreign_token(run_step: RunStep, session_id: str) -> None:
    with pytest.raises(NotFound):
        page(run_step, session_id="ses-none")
    token = page(run_step, session_id=session_id, page_size=1).next_page_token
    with pytest.raises(InvalidArgument, match="different query"):
        page(run_step, session_id=session_id, newest_first=True, page_token=token)


BUDGET = 8 * 1024


@pytest.fixture
def bulky(controller: SessionController) -> str:
    """A session with 12 messages of 1-3 KB; the 6th is 20 KB, more than the whole budget."""
    s = controller.create(make_session())
    for i in range(1, 13):
        controller.append_message(s.metadata.id, "user", "x" * (20_000 if i == 6 else 1000 * (i % 3 + 1)))
    return s.metadata.id


def walk(run_step: RunStep, step: ListMessages, **fields: object) -> list[list[int]]:
    """Every page's sequences; asserts each response stays within the step's budget unless
    it holds a single message."""
    pages: list[list[int]] = []
    token = ""
    while True:
        response = page_with(run_step, step, page_token=token, **fields)
        assert response.messages, "every page makes progress"
        assert response.ByteSize() <= step.max_bytes or len(response.messages) == 1
        assert response.total_size == 12
        pages.append([m.sequence for m in response.messages])
        token = response.next_page_token
        if not token:
            return pages
        assert len(pages) < 50


def page_with(run_step: RunStep, step: ListMessages, **fields: object) -> SessionMessageList:
    response = run_step(step, ListSessionMessagesRequest(**fields), write=False)[RESPONSE]  # type: ignore[arg-type]
    assert isinstance(response, SessionMessageList)
    return response


@pytest.mark.parametrize("newest_first", [False, True])
def test_pages_stop_before_the_byte_budget_and_continue_exactly(
    run_step: RunStep, bulky: str, newest_first: bool
) -> None:
    step = ListMessages(max_bytes=BUDGET)
    pages = walk(run_step, step, session_id=bulky, newest_first=newest_first, page_size=1000)
    expected = list(range(12, 0, -1)) if newest_first else list(range(1, 13))
    assert [seq for page in pages for seq in page] == expected
    assert len(pages) > 2 and [6] in pages  # alone over budget: a page of its own


def test_byte_bounded_pages_after_a_sequence(run_step: RunStep, bulky: str) -> None:
    pages = walk(run_step, ListMessages(max_bytes=BUDGET), session_id=bulky, after_sequence=6)
    assert [seq for page in pages for seq in page] == list(range(7, 13))
    assert len(pages) > 1


def _dated(run_step: RunStep, controller: SessionController, seconds: list[int]) -> str:
    """A session whose messages were appended at ``seconds`` (clock readings), in order."""
    sid = str(controller.create(make_session()).metadata.id)
    for t in seconds:
        request = AppendSessionMessageRequest(
            session_id=sid, role=SessionMessageRole.role_user, content=f"at {t}"
        )
        ctx = run_step(AppendMessage(), request, values={EXISTING: controller.get(sid)}, now_ns=t * 10**9)
        _put(controller, ctx.new_state)
    return sid


def _put(controller: SessionController, session: Any) -> None:
    """Store ``session`` (the step's new state) as Persist would."""
    previous = controller.get(session.metadata.id)
    controller.store.write(lambda tx: tx.records(controller.kinds[0]).put(session, previous))


def _after(run_step: RunStep, sid: str, seconds: int, **fields: Any) -> list[str]:
    request = ListSessionMessagesRequest(session_id=sid, **fields)
    request.created_after.FromNanoseconds(seconds * 10**9)
    return [m.content for m in run_step(ListMessages(), request, write=False)[RESPONSE].messages]


def test_created_after_is_strict_and_combines_with_order_and_after_sequence(
    run_step: RunStep, controller: SessionController
) -> None:
    base = 4_000_000_000
    sid = _dated(run_step, controller, [base + t for t in (1, 2, 2, 3, 5, 8, 13)])
    assert _after(run_step, sid, base + 2) == [f"at {base + t}" for t in (3, 5, 8, 13)]
    assert _after(run_step, sid, base + 0) == [f"at {base + t}" for t in (1, 2, 2, 3, 5, 8, 13)]
    assert _after(run_step, sid, base + 13) == []
    assert _after(run_step, sid, base + 4, newest_first=True, page_size=2) == [
        f"at {base + 13}",
        f"at {base + 8}",
    ]
    assert _after(run_step, sid, base + 1, after_sequence=5) == [f"at {base + 8}", f"at {base + 13}"]


def test_created_after_skips_the_gaps_removals_leave(
    run_step: RunStep, controller: SessionController
) -> None:
    base = 4_000_000_000
    sid = _dated(run_step, controller, [base + t for t in (1, 2, 3, 4, 5)])
    controller.pop_messages(sid, 3)  # 3, 4, 5 go; the next is 6, dated now (before base)
    controller.append_message(sid, "user", "late")
    assert _after(run_step, sid, base + 1) == [f"at {base + 2}", "late"]
    assert _after(run_step, sid, base + 2) == ["late"], "created_at went back after a removal"


def test_a_clock_behind_is_clamped_so_created_at_never_decreases(
    run_step: RunStep, controller: SessionController
) -> None:
    base = 4_000_000_000
    sid = _dated(run_step, controller, [base + 10, base + 5, base + 20])
    page = run_step(ListMessages(), ListSessionMessagesRequest(session_id=sid), write=False)[RESPONSE]
    assert [m.created_at.seconds for m in page.messages] == [base + 10, base + 10, base + 20]
    assert _after(run_step, sid, base + 10) == [f"at {base + 20}"]
