from pipeline.keys import LIST_PAGE, RESPONSE
from pipeline.listing import Page
from pipeline.steps import BuildListResponse
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceList,
    ApiResourceMetadata,
    GetAgentInstancesByAgentRequest,
    ListSessionsRequest,
    SessionList,
)
from tests.conftest import RunStep, make_session


def test_builds_the_list_message(run_step: RunStep) -> None:
    entries = [make_session("a"), make_session("b")]
    page = Page(entries=entries, next_page_token="tok", total_size=5, page_size=2)
    ctx = run_step(
        BuildListResponse(SessionList), ListSessionsRequest(), values={LIST_PAGE: page}, write=False
    )
    response = ctx[RESPONSE]
    assert isinstance(response, SessionList)
    assert list(response.entries) == entries
    assert (response.next_page_token, response.total_size, response.total_pages) == ("tok", 5, 3)


def test_totals_saturate_at_int32(run_step: RunStep) -> None:
    page = Page(total_size=2**40, page_size=1)
    ctx = run_step(
        BuildListResponse(SessionList), ListSessionsRequest(), values={LIST_PAGE: page}, write=False
    )
    assert ctx[RESPONSE].total_size == 2**31 - 1


def test_maps_to_a_list_message_with_other_field_names(run_step: RunStep) -> None:
    """Stigmer's AgentInstanceList: items, total_count, our next_page_token; no page count."""
    entries = [AgentInstance(metadata=ApiResourceMetadata(name="a")), AgentInstance()]
    page = Page(entries=entries, next_page_token="tok", total_size=2**40, page_size=2)
    step = BuildListResponse(AgentInstanceList, entries="items", total="total_count", pages=None)
    ctx = run_step(step, GetAgentInstancesByAgentRequest(), values={LIST_PAGE: page}, write=False)
    response = ctx[RESPONSE]
    assert isinstance(response, AgentInstanceList)
    assert list(response.items) == entries
    assert (response.next_page_token, response.total_count) == ("tok", 2**31 - 1)


def test_the_default_names_still_fill_session_list_whole(run_step: RunStep) -> None:
    page = Page(entries=[make_session("a")], total_size=3, page_size=1)
    ctx = run_step(
        BuildListResponse(SessionList), ListSessionsRequest(), values={LIST_PAGE: page}, write=False
    )
    assert ctx[RESPONSE] == SessionList(entries=[make_session("a")], total_size=3, total_pages=3)
