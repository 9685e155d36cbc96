import pytest

from pipeline.errors import InvalidArgument
from pipeline.storage import Storage
from stigmer_sessions.api import AppendSessionMessagesRequest, SessionMessageInput
from stigmer_sessions.steps import EnforceBatchLimits
from tests.conftest import RunStep

LIMITS = EnforceBatchLimits(max_content_bytes=10, max_metadata_bytes=6, max_messages=3, max_bytes=25)


def _batch(*items: tuple[str, dict[str, str]]) -> AppendSessionMessagesRequest:
    return AppendSessionMessagesRequest(
        session_id="ses-1",
        messages=[SessionMessageInput(role="role_user", content=c, metadata=m) for c, m in items],
    )


def test_a_batch_within_every_limit_passes(run_step: RunStep, store: Storage) -> None:
    before = store.snapshot()
    run_step(LIMITS, _batch(("x" * 10, {"k": "vvvvv"}), ("y" * 9, {})))  # 10 + 6 + 9 = 25 bytes
    assert store.snapshot() == before


def test_each_item_is_held_to_the_message_limits_and_named(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(LIMITS, _batch(("ok", {}), ("é" * 6, {}), ("ok", {"key": "value"})))
    assert [(v.field, v.rule_id) for v in err.value.violations] == [
        ("messages[1].content", "content.max_bytes"),
        ("messages[2].metadata", "size.max_bytes"),
    ]
    assert err.value.message == (
        "batch too large: messages[1].content: is 12 bytes; the limit is 10 bytes; "
        "messages[2].metadata: is 8 bytes in total; the limit is 6 bytes"
    )


def test_the_batch_has_a_byte_budget_of_its_own(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(LIMITS, _batch(("x" * 10, {}), ("x" * 10, {}), ("x" * 5, {"k": "v"})))  # 27 bytes
    assert [(v.field, v.rule_id) for v in err.value.violations] == [("messages", "messages.max_bytes")]
    assert "is 27 bytes of content, payload and metadata in total; the limit is 25 bytes" in err.value.message


def test_and_a_cap_on_how_many_messages(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(LIMITS, _batch(*[("x", {})] * 4))
    assert [(v.field, v.rule_id) for v in err.value.violations] == [("messages", "messages.max_items")]
    assert "has 4 messages; the limit is 3" in err.value.message
