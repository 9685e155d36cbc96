import pytest

from pipeline.errors import InvalidArgument, NotFound
from pipeline.keys import RESPONSE
from stigmer_sessions import SessionController
from stigmer_sessions.api import ListSessionMessagesRequest, SessionMessageList
from stigmer_sessions.steps import ListMessages
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
