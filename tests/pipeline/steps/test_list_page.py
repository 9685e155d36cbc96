from typing import Any

import pytest

from pipeline.auth import Principal, Role
from pipeline.authorization import DEFAULT_AUTHORIZER, Access
from pipeline.errors import InvalidArgument
from pipeline.keys import ACCESS, LIST_PAGE, LIST_SCOPE, PAGE_REQUEST, PRINCIPAL
from pipeline.listing import Filters, ListScope, PageRequest
from pipeline.steps import ListPage
from pipeline.steps.list_page import plan_scope
from stigmer_sessions import SessionController
from stigmer_sessions.api import (
    ApiResourceOwnerScope,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    SessionList,
)
from stigmer_sessions.resource import SESSION
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


@pytest.fixture
def labelled(controller: SessionController) -> list[str]:
    """ids oldest first; labels: env alternates prod/dev, tier only on every third."""
    ids = []
    for i in range(9):
        s = make_session(f"l{i}", org="acme")
        s.metadata.labels["env"] = "prod" if i % 2 == 0 else "dev"
        if i % 3 == 0:
            s.metadata.labels["tier"] = "free"
        if i == 4:
            s.metadata.owner_scope = ApiResourceOwnerScope.identity_account
        ids.append(controller.create(s).metadata.id)
    return ids


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", [8, 6, 4, 2, 0]),
        ("env=prod,tier!=free", [8, 4, 2]),
        ("tier", [6, 3, 0]),
        ("!tier,env=dev", [7, 5, 1]),
        ("env=qa", []),
    ],
)
def test_label_selector(run_step: RunStep, labelled: list[str], selector: str, expected: list[int]) -> None:
    page = run_step(ListPage(), ListSessionsRequest(label_selector=selector), write=False)[LIST_PAGE]
    assert ids_of(page) == [labelled[i] for i in expected]
    assert page.total_size == len(expected)


def test_owner_scope_filter(run_step: RunStep, labelled: list[str]) -> None:
    page = run_step(
        ListPage(), ListSessionsRequest(owner_scope=ApiResourceOwnerScope.identity_account), write=False
    )[LIST_PAGE]
    assert ids_of(page) == [labelled[4]]


def test_order_by_oldest_first_and_token_bound_to_order(run_step: RunStep, labelled: list[str]) -> None:
    request = ListSessionsRequest(order_by="create_time asc", page_size=4)
    page = run_step(ListPage(), request, write=False)[LIST_PAGE]
    assert ids_of(page) == labelled[:4]
    with pytest.raises(InvalidArgument, match="different query"):
        run_step(ListPage(), ListSessionsRequest(page_size=4, page_token=page.next_page_token), write=False)


def test_pages_stay_full_when_an_unindexed_filter_skips_records(
    run_step: RunStep, labelled: list[str]
) -> None:
    seen: list[list[str]] = []
    token = ""
    while True:
        request = ListSessionsRequest(label_selector="env!=prod", page_size=2, page_token=token)
        page = run_step(ListPage(), request, write=False)[LIST_PAGE]
        seen.append(ids_of(page))
        token = page.next_page_token
        if not token:
            break
    assert seen == [[labelled[7], labelled[5]], [labelled[3], labelled[1]]]


def test_planner_drives_from_the_rarest_indexed_filter(controller: SessionController, store: object) -> None:
    for i in range(30):
        s = make_session(f"p{i}", tags=("common",))
        s.metadata.labels["env"] = "prod" if i == 7 else "dev"
        controller.create(s)
    filters = Filters.of(ListSessionsRequest(tags=["common"], label_selector="env=prod"))
    scope = store.read(lambda txn: plan_scope(txn.records(SESSION), filters))  # type: ignore[attr-defined]
    assert (scope.index, scope.values, scope.exact) == ("label", ("env", "prod"), False)


BUDGET = 8 * 1024


@pytest.fixture
def bulky(controller: SessionController) -> list[str]:
    """ids oldest first: 12 sessions with 1-3 KB annotations, tagged "keep" unless i % 3 == 1;
    the 6th carries 20 KB, more than the whole budget."""
    ids = []
    for i in range(12):
        s = make_session(f"big{i}", tags=("keep",) if i % 3 != 1 else ("skip",))
        s.metadata.annotations["blob"] = "x" * (20_000 if i == 5 else 1000 * (i % 3 + 1))
        ids.append(controller.create(s).metadata.id)
    return ids


def walk(run_step: RunStep, step: ListPage, **fields: object) -> tuple[list[list[str]], int]:
    """Every page's ids, first to last; asserts each response stays within the step's budget
    unless it holds a single entry, and that the totals describe the whole list on every page."""
    pages: list[list[str]] = []
    token = ""
    totals: set[int] = set()
    while True:
        request = ListSessionsRequest(page_token=token, **fields)  # type: ignore[arg-type]
        page = run_step(step, request, write=False)[LIST_PAGE]
        response = SessionList(
            entries=page.entries,
            next_page_token=page.next_page_token,
            total_size=page.total_size,
            total_pages=page.total_pages,
        )
        assert page.entries, "every page makes progress"
        assert response.ByteSize() <= step.max_bytes or len(page.entries) == 1
        pages.append(ids_of(page))
        totals.add(page.total_size)
        token = page.next_page_token
        if not token:
            assert len(totals) == 1
            return pages, totals.pop()
        assert len(pages) < 50


def test_pages_stop_before_the_byte_budget_and_continue_exactly(run_step: RunStep, bulky: list[str]) -> None:
    pages, total = walk(run_step, ListPage(max_bytes=BUDGET), page_size=50)
    assert [i for page in pages for i in page] == bulky[::-1]  # each exactly once, in order
    assert total == 12
    assert len(pages) > 1 and all(len(page) < 50 for page in pages)
    assert [bulky[5]] in pages  # alone over budget: a page of its own
    oldest_first, _ = walk(run_step, ListPage(newest_first=False, max_bytes=BUDGET))
    assert [i for page in oldest_first for i in page] == bulky


def test_byte_bounded_pages_with_a_per_record_filter(run_step: RunStep, bulky: list[str]) -> None:
    pages, total = walk(run_step, ListPage(max_bytes=BUDGET), tags=["keep"], label_selector="!absent")
    expected = [bulky[i] for i in range(11, -1, -1) if i % 3 != 1]
    assert [i for page in pages for i in page] == expected
    assert total == len(expected)
    assert len(pages) > 1


def test_page_size_still_applies_under_the_budget(run_step: RunStep, bulky: list[str]) -> None:
    pages, _ = walk(run_step, ListPage(max_bytes=10**7), page_size=5)
    assert [len(p) for p in pages] == [5, 5, 2]


def test_page_request_skips_matches_and_counts_them_all(run_step: RunStep, seeded: list[str]) -> None:
    paged = {PAGE_REQUEST: PageRequest(size=3, skip=3)}
    page = run_step(ListPage(), ListSessionsRequest(), values=paged, write=False)[LIST_PAGE]
    assert ids_of(page) == seeded[::-1][3:6]
    assert page.next_page_token  # the token leads on from this page, not from page 1
    after = {PAGE_REQUEST: PageRequest(size=3, token=page.next_page_token)}
    rest = run_step(ListPage(), ListSessionsRequest(), values=after, write=False)[LIST_PAGE]
    assert ids_of(rest) == seeded[::-1][6:]
    assert (page.total_size, rest.total_size) == (8, 8)


def test_page_request_beyond_the_end_is_empty_with_the_total(run_step: RunStep, seeded: list[str]) -> None:
    paged = {PAGE_REQUEST: PageRequest(size=3, skip=9)}
    page = run_step(ListPage(), ListSessionsRequest(), values=paged, write=False)[LIST_PAGE]
    assert (ids_of(page), page.next_page_token, page.total_size) == ([], "", 8)


def test_page_request_wins_over_page_size_and_token(run_step: RunStep, seeded: list[str]) -> None:
    """A step that read other paging fields decides; the request's own are not read."""
    paged = {PAGE_REQUEST: PageRequest(size=2)}
    request = ListSessionsRequest(page_size=1, page_token="not-a-token")
    page = run_step(ListPage(), request, values=paged, write=False)[LIST_PAGE]
    assert ids_of(page) == seeded[::-1][:2]


def test_page_request_skips_after_a_per_record_filter(run_step: RunStep, seeded: list[str]) -> None:
    """Skipped are matches, not index entries: acme+even matches a4, a2, a0 (newest first)."""
    paged = {PAGE_REQUEST: PageRequest(size=1, skip=1)}
    request = ListSessionsRequest(org="acme", tags=["even"])
    page = run_step(ListPage(), request, values=paged, write=False)[LIST_PAGE]
    assert ids_of(page) == [seeded[2]]
    assert page.total_size == 3


def test_page_request_on_a_given_scope(run_step: RunStep, controller: SessionController) -> None:
    ids = [controller.create(make_session(f"s{i}", agent="ain-7")).metadata.id for i in range(4)]
    controller.create(make_session("other", agent="ain-8"))
    values = {LIST_SCOPE: ListScope("agent_instance", ("ain-7",)), PAGE_REQUEST: PageRequest(size=3, skip=3)}
    page = run_step(ListPage(), ListSessionsByAgentRequest(agent_id="ain-7"), values=values, write=False)[
        LIST_PAGE
    ]
    assert (ids_of(page), page.total_size, page.next_page_token) == ([ids[0]], 4, "")


def _as(principal: Principal) -> dict[Any, Any]:
    return {PRINCIPAL: principal, ACCESS: Access(principal, DEFAULT_AUTHORIZER, Role.VIEWER)}


def test_a_principal_without_an_org_pages_through_its_orgs_only(run_step: RunStep, seeded: list[str]) -> None:
    beta = _as(Principal("b", {"beta": Role.VIEWER}))
    page = run_step(ListPage(), ListSessionsRequest(page_size=1), values=beta, write=False)[LIST_PAGE]
    assert ids_of(page) == [seeded[7]] and (page.total_size, page.total_pages) == (2, 2)
    request = ListSessionsRequest(page_size=1, page_token=page.next_page_token)
    rest = run_step(ListPage(), request, values=beta, write=False)[LIST_PAGE]
    assert ids_of(rest) == [seeded[6]] and not rest.next_page_token
    tagged = run_step(ListPage(), ListSessionsRequest(tags=["even"]), values=beta, write=False)[LIST_PAGE]
    assert ids_of(tagged) == [] and tagged.total_size == 0


def test_several_orgs_merge_in_id_order(run_step: RunStep, seeded: list[str]) -> None:
    both = _as(Principal("ab", {"acme": Role.VIEWER, "beta": Role.EDITOR, "empty": Role.VIEWER}))
    page = run_step(ListPage(), ListSessionsRequest(tags=["all"]), values=both, write=False)[LIST_PAGE]
    assert ids_of(page) == seeded[::-1] and page.total_size == 8


def test_a_given_scope_is_read_from_its_per_org_index(
    run_step: RunStep, controller: SessionController
) -> None:
    a = controller.create(make_session("x", org="acme", agent="ain-9")).metadata.id
    controller.create(make_session("y", org="beta", agent="ain-9"))
    scope = {LIST_SCOPE: ListScope("agent_instance", ("ain-9",), per_org="org_agent_instance")}
    values = {**_as(Principal("a", {"acme": Role.VIEWER})), **scope}
    page = run_step(ListPage(), ListSessionsByAgentRequest(agent_id="ain-9"), values=values, write=False)[
        LIST_PAGE
    ]
    assert ids_of(page) == [a] and page.total_size == 1


def test_every_org_is_the_unrestricted_list(run_step: RunStep, seeded: list[str]) -> None:
    star = _as(Principal("root", {"*": Role.VIEWER}))
    page = run_step(ListPage(), ListSessionsRequest(page_size=100), values=star, write=False)[LIST_PAGE]
    assert ids_of(page) == seeded[::-1]
