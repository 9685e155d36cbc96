"""The serve flags of the size limits and the per-client watch cap: parsed, range-checked,
and passed on to every worker of --workers N."""

from __future__ import annotations

import pytest

from stigmer_sessions.cli import _parser, _worker_args

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
