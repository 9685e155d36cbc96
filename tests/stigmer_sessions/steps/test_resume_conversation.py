from pipeline.keys import RESPONSE
from stigmer_sessions import SessionController
from stigmer_sessions.api import ListSessionMessagesRequest, ResumeSessionRequest
from stigmer_sessions.steps import ListMessages, ResumeConversation
from tests.conftest import RunStep, make_session


def test_latest_page_oldest_first_and_the_way_back(run_step: RunStep, controller: SessionController) -> None:
    s = controller.create(make_session())
    for i in range(1, 13):
        controller.append_message(s.metadata.id, "assistant" if i % 2 else "user", f"m{i}")
    stored = controller.get(s.metadata.id)
    ctx = run_step(
        ResumeConversation(), ResumeSessionRequest(page_size=5), values={RESPONSE: stored}, write=False
    )
    resumed = ctx[RESPONSE]
    assert resumed.session == stored
    assert [m.sequence for m in resumed.messages] == [8, 9, 10, 11, 12]
    back = ListSessionMessagesRequest(
        session_id=s.metadata.id, newest_first=True, page_size=5, page_token=resumed.earlier_page_token
    )
    earlier = run_step(ListMessages(), back, write=False)[RESPONSE]
    assert [m.sequence for m in earlier.messages] == [7, 6, 5, 4, 3]


def test_short_history_has_no_earlier_page(run_step: RunStep, controller: SessionController) -> None:
    s = controller.create(make_session())
    controller.append_message(s.metadata.id, "user", "only")
    ctx = run_step(
        ResumeConversation(),
        ResumeSessionRequest(),
        values={RESPONSE: controller.get(s.metadata.id)},
        write=False,
    )
    assert ([m.content for m in ctx[RESPONSE].messages], ctx[RESPONSE].earlier_page_token) == (["only"], "")


def test_latest_messages_that_fit_the_budget_with_the_session(
    run_step: RunStep, controller: SessionController
) -> None:
    budget = 8 * 1024
    s = controller.create(make_session())
    for i in range(1, 11):
        controller.append_message(s.metadata.id, "user", f"{i:02d}" + "x" * 1500)
    stored = controller.get(s.metadata.id)
    resumed = run_step(
        ResumeConversation(max_bytes=budget), ResumeSessionRequest(), values={RESPONSE: stored}, write=False
    )[RESPONSE]
    assert resumed.session == stored
    assert resumed.ByteSize() <= budget
    latest = [m.sequence for m in resumed.messages]
    assert latest == list(range(11 - len(latest), 11)) and 1 < len(latest) < 10  # oldest first
    # a budget with no room beside the session: still the latest message
    stored.spec.subject = "s" * budget
    alone = run_step(
        ResumeConversation(max_bytes=budget), ResumeSessionRequest(), values={RESPONSE: stored}, write=False
    )[RESPONSE]
    assert [m.sequence for m in alone.messages] == [10]
    # the earlier token walks back through the rest exactly once
    seen = latest
    token = resumed.earlier_page_token
    while token:
        back = ListSessionMessagesRequest(session_id=s.metadata.id, newest_first=True, page_token=token)
        earlier = run_step(ListMessages(max_bytes=budget), back, write=False)[RESPONSE]
        seen = [m.sequence for m in reversed(earlier.messages)] + seen
        token = earlier.next_page_token
    assert seen == list(range(1, 11))
