"""Removing any one step from any operation of any kind fails a promise.

For every (kind, operation, step) the operation runs without that step, on a fresh LMDB
store per promise, and at least one promise of its case must catch it (an AssertionError,
or any unexpected exception). Test ids read ``session-create-without-CheckDuplicate``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.stigmer_sessions.promises.cases import CASES, Case
from tests.stigmer_sessions.promises.checks import promises
from tests.stigmer_sessions.promises.target import make_target, without_step


def _removals() -> list[object]:
    found: list[object] = []
    with tempfile.TemporaryDirectory() as where:
        for case in CASES:
            with make_target(case.kind, Path(where) / case.id) as target:
                names = target.steps(case.operation)
            for index, name in enumerate(names):
                repeated = names.count(name) > 1
                label = f"{case.id}-without-{name}" + (f"-{index}" if repeated else "")
                found.append(pytest.param(case, index, name, id=label))
    return found


@pytest.mark.parametrize(("case", "index", "step"), _removals())
def test_removing_the_step_is_caught(case: Case, index: int, step: str, tmp_path: Path) -> None:
    held: list[str] = []
    for n, promise in enumerate(promises(case)):
        with make_target(case.kind, tmp_path / str(n)) as target:
            target.operations[case.operation] = without_step(target.operations[case.operation], index)
            try:
                promise.check(target, case)
            except Exception:
                return  # caught: this promise fails without the step
        held.append(promise.name)
    pytest.fail(f"{case.operation} without {step} still keeps every promise: {', '.join(held)}")


#: The removals that once went unnoticed by the whole suite (issue 11), and the promise
#: written for each: it, not some incidental failure, must catch it.
ONCE_UNNOTICED = [
    ("create", "CheckDuplicate", "refuses-duplicate-in-full-org"),
    ("transition", "RememberRequest", "replay"),
    ("apply", "EnforceQuota", "quota"),
    ("apply", "SetInitialPhase", "effect-creates"),
    ("update", "ValidateProto", "validation"),
    ("pin", "CheckVersion", "version"),
    ("unpin", "CheckVersion", "version"),
]


@pytest.mark.parametrize(
    ("operation", "step", "promise_name"),
    [pytest.param(*row, id=f"session-{row[0]}-without-{row[1]}") for row in ONCE_UNNOTICED],
)
def test_the_removals_that_once_went_unnoticed_fail_their_promise(
    operation: str, step: str, promise_name: str, tmp_path: Path
) -> None:
    case = next(c for c in CASES if (c.kind, c.operation) == ("session", operation))
    promise = next(p for p in promises(case) if p.name == promise_name)
    with make_target(case.kind, tmp_path / "whole") as target:
        promise.check(target, case)  # kept with every step
        index = target.steps(operation).index(step)
    with make_target(case.kind, tmp_path / "without") as target:
        target.operations[operation] = without_step(target.operations[operation], index)
        with pytest.raises(AssertionError):
            promise.check(target, case)
