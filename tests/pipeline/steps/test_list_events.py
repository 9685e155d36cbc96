import pytest

from pipeline.auth import Principal, Role
from pipeline.authorization import DEFAULT_AUTHORIZER, Access
from pipeline.errors import InvalidArgument, OutOfRange
from pipeline.keys import ACCESS, PRINCIPAL, RESPONSE
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


BUDGET = 8 * 1024


@pytest.fixture
def bulky(controller: SessionController) -> None:
    """Revisions 1-10: creates of sessions with 1-3 KB annotations; the 5th is 20 KB, more
    than the whole budget; 11: a pin of the first."""
    first = ""
    for i in range(10):
        s = make_session(f"big{i}")
        s.metadata.annotations["blob"] = "x" * (20_000 if i == 4 else 1000 * (i % 3 + 1))
        created = controller.create(s)
        first = first or created.metadata.id
    controller.pin(first)


def walk(run_step: RunStep, step: ListEvents, **fields: object) -> list[list[int]]:
    """Every page's revisions; asserts each response stays within the step's budget unless it
    holds a single change."""
    pages: list[list[int]] = []
    token = ""
    while True:
        request = ListSessionChangesRequest(page_token=token, **fields)  # type: ignore[arg-type]
        response = run_step(step, request, write=False)[RESPONSE]
        assert response.changes, "every page makes progress"
        assert response.ByteSize() <= step.max_bytes or len(response.changes) == 1
        pages.append([c.revision for c in response.changes])
        token = response.next_page_token
        if not token:
            return pages
        assert len(pages) < 50


def test_pages_stop_before_the_byte_budget_and_continue_exactly(run_step: RunStep, bulky: None) -> None:
    pages = walk(run_step, ListEvents(SessionChangeList, max_bytes=BUDGET), page_size=1000)
    assert [r for page in pages for r in page] == list(range(1, 12))
    assert len(pages) > 2 and [5] in pages  # alone over budget: a page of its own


def test_byte_bounded_pages_with_a_type_filter_and_a_start(run_step: RunStep, bulky: None) -> None:
    step = ListEvents(SessionChangeList, max_bytes=BUDGET)
    pages = walk(run_step, step, after_revision=2, types=["SessionCreated"])
    assert [r for page in pages for r in page] == list(range(3, 11))
    assert len(pages) > 1


def test_session_and_org_filters_together(run_step: RunStep, history: list[str]) -> None:
    assert [c.revision for c in page(run_step, session_id=history[0], org="acme").changes] == [1, 3]
    assert page(run_step, session_id=history[0], org="beta").changes == []


def test_a_principal_without_an_org_sees_only_its_orgs_changes(run_step: RunStep, history: list[str]) -> None:
    beta = Principal("b", {"beta": Role.VIEWER})
    values = {PRINCIPAL: beta, ACCESS: Access(beta, DEFAULT_AUTHORIZER, Role.VIEWER)}
    response = run_step(STEP, ListSessionChangesRequest(), values=values, write=False)[RESPONSE]
    assert [(c.revision, c.org) for c in response.changes] == [(2, "beta"), (4, "beta")]
    one = run_step(STEP, ListSessionChangesRequest(session_id=history[0]), values=values, write=False)[
        RESPONSE
    ]
    assert list(one.changes) == []  # another org's session: as if it had none
    both = Principal("ab", {"acme": Role.VIEWER, "beta": Role.VIEWER, "gamma": Role.VIEWER})
    values = {PRINCIPAL: both, ACCESS: Access(both, DEFAULT_AUTHORIZER, Role.VIEWER)}
    merged = run_step(STEP, ListSessionChangesRequest(page_size=3), values=values, write=False)[RESPONSE]
    assert [c.revision for c in merged.changes] == [1, 2, 3] and merged.next_page_token
