"""The serve flags of the size limits and the per-client watch cap: parsed, range-checked,
and passed on to every worker of --workers N."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import message_pb2_grpc
from stigmer_sessions.api import AppendSessionMessagesRequest, SessionMessageInput
from stigmer_sessions.cli import _parser, _worker_args
from tests.conftest import Stubs, make_session, start_server_process

FLAGS = (
    "--max-message-metadata-bytes",
    "--max-annotations-bytes",
    "--max-spec-metadata-bytes",
    "--max-session-bytes",
    "--max-watchers-per-client",
)


@pytest.mark.parametrize("flag", FLAGS)
def test_each_flag_is_parsed_and_handed_to_workers(flag: str) -> None:
    args = _parser().parse_args(["serve", flag, "12345"])
    worker = _worker_args(args)
    assert worker[worker.index(flag) + 1] == "12345"


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_each_flag_refuses_values_below_one(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["serve", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err
    assert "must be at least 1" in err or "is not an integer" in err


def test_defaults() -> None:
    args = _parser().parse_args(["serve"])
    assert args.max_annotations_bytes == args.max_spec_metadata_bytes == 256 * 1024
    assert args.max_session_bytes == 1024 * 1024
    assert args.max_message_metadata_bytes == 64 * 1024
    assert args.max_watchers_per_client == 8


@pytest.mark.parametrize(("flag", "most"), [("--max-batch-messages", 1000), ("--max-batch-bytes", 1 << 30)])
def test_the_batch_flags_are_range_checked_and_handed_to_workers(
    flag: str, most: int, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = _worker_args(_parser().parse_args(["serve", flag, "7"]))
    assert worker[worker.index(flag) + 1] == "7"
    for value in ("0", str(most + 1)):
        with pytest.raises(SystemExit) as exit_:
            _parser().parse_args(["serve", flag, value])
        assert exit_.value.code == 2
        assert f"argument {flag}" in capsys.readouterr().err


def test_the_batch_flags_default_to_the_protos_bound_and_2_mib() -> None:
    defaults = _parser().parse_args(["serve"])
    assert (defaults.max_batch_messages, defaults.max_batch_bytes) == (1000, 2 * 1024 * 1024)


def test_a_served_batch_is_held_to_the_flags(tmp_path: Path) -> None:
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "db"), "--max-batch-messages", "2"
    )
    try:
        with grpc.insecure_channel(event["address"]) as channel:
            sid = Stubs(channel).command.create(make_session()).metadata.id
            messages = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
            batch = AppendSessionMessagesRequest(
                session_id=sid, messages=[SessionMessageInput(role="role_user", content="hi")] * 3
            )
            with pytest.raises(grpc.RpcError) as err:
                messages.appendMessages(batch)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "has 3 messages; the limit is 2" in (err.value.details() or "")
    finally:
        proc.terminate()
        proc.wait(30)
        event["drain"].join(10)
