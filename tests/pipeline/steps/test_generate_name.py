from pipeline.steps import GenerateName
from stigmer_sessions import SessionController
from tests.conftest import RunStep, make_session

NOV_21 = 1_795_219_200 * 10**9  # 2026-11-21T00:00:00Z


def test_names_empty_requests_per_org_and_day(run_step: RunStep) -> None:
    first = run_step(GenerateName(), make_session(""), now_ns=NOV_21).new_state.metadata.name
    second = run_step(GenerateName(), make_session(""), now_ns=NOV_21 + 3600 * 10**9).new_state.metadata.name
    other_org = run_step(GenerateName(), make_session("", org="beta"), now_ns=NOV_21).new_state.metadata.name
    next_day = run_step(
        GenerateName(), make_session(""), now_ns=NOV_21 + 86_400 * 10**9
    ).new_state.metadata.name
    assert (first, second, other_org, next_day) == (
        "session-2026-11-21-001",
        "session-2026-11-21-002",
        "session-2026-11-21-001",
        "session-2026-11-22-001",
    )


def test_skips_names_already_taken(run_step: RunStep, controller: SessionController) -> None:
    controller.create(make_session("session-2026-11-21-001"))
    assert (
        run_step(GenerateName(), make_session(""), now_ns=NOV_21).new_state.metadata.name
        == "session-2026-11-21-002"
    )


def test_given_names_and_custom_patterns(run_step: RunStep) -> None:
    assert run_step(GenerateName(), make_session("Mine"), now_ns=NOV_21).new_state.metadata.name == "Mine"
    assert run_step(GenerateName(), make_session("", slug="s"), now_ns=NOV_21).new_state.metadata.name == ""
    step = GenerateName("chat {n} on {date}")
    assert run_step(step, make_session(""), now_ns=NOV_21).new_state.metadata.name == "chat 1 on 2026-11-21"
