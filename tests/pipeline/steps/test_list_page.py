import pytest

from pipeline.errors import InvalidArgument
from pipeline.keys import LIST_PAGE, LIST_SCOPE
from pipeline.listing import ListScope
from pipeline.steps import ListPage
from stigmer_sessions import SessionController
from stigmer_sessions.api import ListSessionsByAgentRequest, ListSessionsRequest
from tests.conftest import RunStep, make_session


@pytest.fixture
def seeded(controller: SessionController) -> list[str]:
    """ids oldest first: 6 in acme (tags alternate), 2 in beta."""
    ids = []
    for i in range(6):
        tags = ("even", "all") if i % 2 == 0 else ("odd", "all")
        ids.append(controller.create(make_session(f"a{i}", org="acme", tags=tags)).metadata.id)
    for i in range(2):
        ids.append(controller.create(make_session(f"b{i}", org="beta", tags=("all",))).metadata.id)
    return ids


def ids_of(page: object) -> list[str]:
    return [s.metadata.id for s in page.entries]  # type: ignore[attr-defined]


def test_newest_first_with_next_token_and_totals(run_step: RunStep, seeded: list[str]) -> None:
    page = run_step(ListPage(), ListSessionsRequest(page_size=3), write=False)[LIST_PAGE]
    assert ids_of(page) == seeded[::-1][:3]
    assert page.next_page_token
    assert (page.total_size, page.total_pages) == (8, 3)


def test_oldest_first_option(run_step: RunStep, seeded: list[str]) -> None:
    page = run_step(ListPage(newest_first=False), ListSessionsRequest(page_size=3), write=False)[LIST_PAGE]
    assert ids_of(page) == seeded[:3]


def test_last_page_has_no_token(run_step: RunStep, seeded: list[str]) -> None:
    page = run_step(ListPage(), ListSessionsRequest(page_size=8), write=False)[LIST_PAGE]
    assert len(page.entries) == 8
    assert page.next_page_token == ""


def test_org_filter(run_step: RunStep, seeded: list[str]) -> None:
    page = run_step(ListPage(), ListSessionsRequest(org="beta"), write=False)[LIST_PAGE]
    assert ids_of(page) == seeded[7:5:-1]
    assert page.total_size == 2


@pytest.mark.parametrize(
    ("org", "tags", "expected"),
    [
        ("", ["even"], [4, 2, 0]),
        ("", ["all"], [7, 6, 5, 4, 3, 2, 1, 0]),
        ("", ["all", "odd"], [5, 3, 1]),
        ("acme", ["all"], [5, 4, 3, 2, 1, 0]),
        ("beta", ["odd"], []),
        ("", ["even", "odd"], []),
    ],
)
def test_tags_are_all_of(
    run_step: RunStep, seeded: list[str], org: str, tags: list[str], expected: list[int]
) -> None:
    page = run_step(ListPage(), ListSessionsRequest(org=org, tags=tags), write=False)[LIST_PAGE]
    assert ids_of(page) == [seeded[i] for i in expected]
    assert page.total_size == len(expected)


def test_walk_pages_with_multi_tag_filter(run_step: RunStep, seeded: list[str]) -> None:
    seen: list[str] = []
    token = ""
    while True:
        request = ListSessionsRequest(tags=["all", "even"], page_size=2, page_token=token)
        page = run_step(ListPage(), request, write=False)[LIST_PAGE]
        seen += ids_of(page)
        token = page.next_page_token
        if not token:
            break
    assert seen == [seeded[4], seeded[2], seeded[0]]


def test_scope_from_a_previous_step(run_step: RunStep, controller: SessionController) -> None:
    a = controller.create(make_session("a", agent="ain-7"))
    controller.create(make_session("b", agent="ain-8"))
    request = ListSessionsByAgentRequest(agent_id="ain-7")
    page = run_step(
        ListPage(), request, values={LIST_SCOPE: ListScope("agent_instance", ("ain-7",))}, write=False
    )[LIST_PAGE]
    assert ids_of(page) == [a.metadata.id]
    assert page.total_size == 1


def test_bad_or_foreign_token_is_invalid_argument(run_step: RunStep, seeded: list[str]) -> None:
    with pytest.raises(InvalidArgument):
        run_step(ListPage(), ListSessionsRequest(page_token="garbage"), write=False)
    token = run_step(ListPage(), ListSessionsRequest(page_size=1), write=False)[LIST_PAGE].next_page_token
    with pytest.raises(InvalidArgument, match="different query"):
        run_step(ListPage(), ListSessionsRequest(page_size=1, org="acme", page_token=token), write=False)
