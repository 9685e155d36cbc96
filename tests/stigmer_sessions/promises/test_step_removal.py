"""Removing any one step from any operation of any kind (and variant) fails a promise.

For every operation of every kind or ``kind+variant`` and every step it runs, the
operation runs without that step, on a fresh LMDB store per promise, and at least one
promise of one of its cases (a delete has a second case, asking for the cascade) must
catch it (an AssertionError, or any unexpected exception). Test ids read
``session-create-without-CheckDuplicate`` or
``agent_instance+integrity-delete-without-GuardSessions``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.stigmer_sessions.promises.cases import Case
from tests.stigmer_sessions.promises.checks import promises
from tests.stigmer_sessions.promises.table import CASES
from tests.stigmer_sessions.promises.target import make_target, without_step

#: (kind or ``kind+variant``, operation) -> its cases (a delete has one asking for the
#: cascade too): a removal is caught when any promise of any of them fails.
BY_OPERATION: dict[tuple[str, str], list[Case]] = {}
for _case in CASES:
    BY_OPERATION.setdefault((_case.kind, _case.operation), []).append(_case)


def _removals() -> list[object]:
    found: list[object] = []
    with tempfile.TemporaryDirectory() as where:
        for kind, operation in BY_OPERATION:
            with make_target(kind, Path(where) / f"{kind}-{operation}") as target:
                names = target.steps(operation)
            for index, name in enumerate(names):
                repeated = names.count(name) > 1
                label = f"{kind}-{operation}-without-{name}" + (f"-{index}" if repeated else "")
                found.append(pytest.param(kind, operation, index, name, id=label))
    return found


@pytest.mark.parametrize(("kind", "operation", "index", "step"), _removals())
def test_removing_the_step_is_caught(
    kind: str, operation: str, index: int, step: str, tmp_path: Path
) -> None:
    held: list[str] = []
    for case in BY_OPERATION[(kind, operation)]:
        for n, promise in enumerate(promises(case)):
            with make_target(kind, tmp_path / f"{case.id}-{n}") as target:
                target.operations[operation] = without_step(target.operations[operation], index)
                try:
                    promise.check(target, case)
                except Exception:
                    return  # caught: this promise fails without the step
            held.append(f"{case.id}:{promise.name}")
    pytest.fail(f"{kind} {operation} without {step} still keeps every promise: {', '.join(held)}")


def _fails_its_promise(case_id: str, step: str, promise_name: str, where: Path) -> None:
    """Case ``case_id``'s promise ``promise_name`` holds with every step, and fails with an
    AssertionError (the promise itself, not some incidental error) without ``step``."""
    case = next(c for c in CASES if c.id == case_id)
    promise = next(p for p in promises(case) if p.name == promise_name)
    with make_target(case.kind, where / "whole") as target:
        promise.check(target, case)  # kept with every step
        index = target.steps(case.operation).index(step)
    with make_target(case.kind, where / "without") as target:
        target.operations[case.operation] = without_step(target.operations[case.operation], index)
        with pytest.raises(AssertionError):
            promise.check(target, case)


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
    _fails_its_promise(f"session-{operation}", step, promise_name, tmp_path)


#: The referential-integrity steps, and the promise written for each removal (case id,
#: step, promise). Without ``--require-agent-instance`` GuardSessions only acts when asked
#: to cascade, so the cascading delete is what misses it there.
INTEGRITY = [
    ("session+integrity-create", "RequireAgentInstance", "refuses-naming-missing-instance"),
    ("session+integrity-create", "RequireAgentInstance", "refuses-naming-other-orgs-instance"),
    ("session+integrity-update", "RequireAgentInstance", "refuses-moving-to-missing-instance"),
    ("session+integrity-update", "RequireAgentInstance", "refuses-moving-to-other-orgs-instance"),
    ("session+integrity-apply", "RequireAgentInstance", "refuses-moving-to-missing-instance"),
    ("session+integrity-apply", "RequireAgentInstance", "refuses-creating-naming-missing-instance"),
    ("agent_instance+integrity-delete", "GuardSessions", "refuses-has-sessions"),
    ("agent_instance+integrity-delete+cascade", "GuardSessions", "effect"),
    ("agent_instance-delete+cascade", "GuardSessions", "effect"),
]


@pytest.mark.parametrize(
    ("case_id", "step", "promise_name"),
    [pytest.param(*row, id=f"{row[0]}-without-{row[1]}-{row[2]}") for row in INTEGRITY],
)
def test_removing_an_integrity_step_fails_its_promise(
    case_id: str, step: str, promise_name: str, tmp_path: Path
) -> None:
    _fails_its_promise(case_id, step, promise_name, tmp_path)


#: Authorize heads every operation; without it a principal's request must not go through.
#: Where the org is in the request (create, apply, the lists) nothing else would stop an
#: outsider; where it is known only from the record, the loaders fail closed (a principal
#: without an Authorize step is refused), which the outsider promise also catches.
AUTHORIZATION = [
    ("session-create", "Authorize", "refuses-outsider"),
    ("session-apply", "Authorize", "refuses-outsider"),
    ("session-update", "Authorize", "refuses-outsider"),
    ("session-delete", "Authorize", "refuses-outsider"),
    ("session-get", "Authorize", "refuses-outsider"),
    ("session-getByReference", "Authorize", "refuses-outsider"),
    ("session-list", "Authorize", "refuses-outsider"),
    ("session-listChanges", "Authorize", "refuses-outsider"),
    ("agent_instance-getByAgent", "Authorize", "refuses-outsider"),
]


@pytest.mark.parametrize(
    ("case_id", "step", "promise_name"),
    [pytest.param(*row, id=f"{row[0]}-without-{row[1]}-{row[2]}") for row in AUTHORIZATION],
)
def test_removing_authorize_fails_its_promise(
    case_id: str, step: str, promise_name: str, tmp_path: Path
) -> None:
    _fails_its_promise(case_id, step, promise_name, tmp_path)
