"""Each shipped lifecycle's legal and illegal moves, with the exact messages users see."""

from pathlib import Path

import pytest

from pipeline.errors import FailedPrecondition, InvalidArgument
from pipeline.lifecycle import Lifecycle
from stigmer_sessions.config import load_lifecycle

DEFAULT = load_lifecycle("default")
REVEAL = load_lifecycle("reveal")
WORKER = load_lifecycle("worker")

LEGAL = [
    (DEFAULT, "active", "paused"),
    (DEFAULT, "paused", "active"),
    (DEFAULT, "active", "completed"),
    (DEFAULT, "paused", "completed"),
    (DEFAULT, "active", "archived"),
    (DEFAULT, "paused", "archived"),
    (DEFAULT, "completed", "archived"),
    (REVEAL, "draft", "capturing"),
    (REVEAL, "capturing", "closed"),
    (REVEAL, "closed", "revealed"),
    (WORKER, "idle", "active"),
    (WORKER, "active", "waiting"),
    (WORKER, "waiting", "active"),
    (WORKER, "active", "error"),
    (WORKER, "error", "idle"),
    (WORKER, "waiting", "stopped"),
]

ILLEGAL = [
    (DEFAULT, "completed", "active", "allowed from 'completed': archived"),
    (DEFAULT, "archived", "active", "allowed from 'archived': none"),
    (DEFAULT, "paused", "paused", None),  # same phase: a no-op, not an error
    (REVEAL, "draft", "closed", "allowed from 'draft': capturing"),
    (REVEAL, "draft", "revealed", "allowed from 'draft': capturing"),
    (REVEAL, "revealed", "draft", "allowed from 'revealed': none"),
    (WORKER, "idle", "waiting", "allowed from 'idle': active, stopped"),
    (WORKER, "stopped", "active", "allowed from 'stopped': none"),
    (WORKER, "active", "active", None),
]


@pytest.mark.parametrize(("lifecycle", "current", "target"), LEGAL)
def test_legal_moves(lifecycle: Lifecycle, current: str, target: str) -> None:
    lifecycle.check_move("session", "ses-1", current, target)


@pytest.mark.parametrize(("lifecycle", "current", "target", "allowed"), ILLEGAL)
def test_illegal_moves_have_exact_messages(
    lifecycle: Lifecycle, current: str, target: str, allowed: str | None
) -> None:
    if allowed is None:
        lifecycle.check_move("session", "ses-1", current, target)
        return
    with pytest.raises(FailedPrecondition) as err:
        lifecycle.check_move("session", "ses-1", current, target)
    assert err.value.message == f"cannot move session ses-1 to {target!r}: it is in {current!r}; {allowed}"


def test_the_issue_example_message() -> None:
    with pytest.raises(FailedPrecondition) as err:
        REVEAL.check_move("session", "ses-01abc", "draft", "closed")
    assert (
        err.value.message
        == "cannot move session ses-01abc to 'closed': it is in 'draft'; allowed from 'draft': capturing"
    )


def test_unknown_phase_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="'bogus' is not a phase of the 'default' lifecycle"):
        DEFAULT.check_move("session", "ses-1", "active", "bogus")


def test_shipped_definitions() -> None:
    assert (DEFAULT.initial, DEFAULT.accepts_messages, DEFAULT.recovery_phase) == (
        "active",
        frozenset({"active"}),
        "",
    )
    assert REVEAL.phases == ("draft", "capturing", "closed", "revealed")
    assert (WORKER.live, WORKER.recovery_phase) == (frozenset({"active", "waiting"}), "idle")


def test_bad_definitions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\ninitial = "a"\nlive = ["nowhere"]\n[transitions]\na = ["b"]\n')
    with pytest.raises(ValueError, match="unknown phases"):
        Lifecycle.from_toml(path)
    path.write_text("not toml at all [")
    with pytest.raises(ValueError, match="not a lifecycle definition"):
        Lifecycle.from_toml(path)
