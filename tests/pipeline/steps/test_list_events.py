import pytest

from pipeline.errors import InvalidArgument, OutOfRange
from pipeline.keys import RESPONSE
from pipeline.steps import ListEvents
from stigmer_sessions import SessionController
from stigmer_sessions.api import ListSessionChangesRequest, SessionChangeList
from tests.conftest import RunStep, make_session

STEP = ListEvents(SessionChangeList)


@pytest.fixture
def history(controller: SessionController) -> list[str]:
    a = controller.create(make_session("a", org="acme"))  # 1
    b = controller.create(make_session("b", org="beta"))  # 2
    controller.pin(a.metadata.id)  # 3
    controller.delete(b.metadata.id)  # 4
    return [a.metadata.id, b.metadata.id]


def page(run_step: RunStep, **fields: object) -> SessionChangeList:
    response = run_step(STEP, ListSessionChangesRequest(**fields), write=False)[RESPONSE]  # type: ignore[arg-type]
    assert isinstance(response, SessionChangeList)
    return response


def test_all_oldest_first_with_positions(run_step: RunStep, history: list[str]) -> None:
    result = page(run_step)
    assert [(c.revision, c.type) for c in result.changes] == [
        (1, "SessionCreated"),
        (2, "SessionCreated"),
        (3, "SessionPinned"),
        (4, "SessionDeleted"),
    ]
    assert (result.current_revision, result.oldest_revision, result.next_page_token) == (4, 1, "")


def test_filters(run_step: RunStep, history: list[str]) -> None:
    assert [c.revision for c in page(run_step, session_id=history[0]).changes] == [1, 3]
    assert [c.revision for c in page(run_step, org="beta").changes] == [2, 4]
    assert [c.revision for c in page(run_step, types=["SessionDeleted"]).changes] == [4]
    assert [c.revision for c in page(run_step, after_revision=2).changes] == [3, 4]


def test_pages_and_foreign_tokens(run_step: RunStep, history: list[str]) -> None:
    first = page(run_step, page_size=3)
    assert [c.revision for c in first.changes] == [1, 2, 3]
    rest = page(run_step, page_size=3, page_token=first.next_page_token)
    assert [c.revision for c in rest.changes] == [4]
    with pytest.raises(InvalidArgument, match="different query"):
        page(run_step, org="acme", page_token=first.next_page_token)


def test_compacted_revisions_are_out_of_range(
    run_step: RunStep, history: list[str], controller: SessionController
) -> None:
    controller.compact_changes(keep_revisions=1)
    with pytest.raises(OutOfRange, match="oldest available revision is 4"):
        page(run_step, after_revision=1)
    assert [c.revision for c in page(run_step).changes] == [4]
