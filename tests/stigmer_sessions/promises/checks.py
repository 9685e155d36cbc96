"""The cross-cutting promises, each a plain function ``(target, case) -> None``.

Each check sets up what it needs on a fresh target (through the case's ``prepare``, which
seeds with the pristine pipelines), runs the operation under test and raises
AssertionError when the promise is broken. "Nothing written" always means the whole store
(records, indexes, counters, children, remembered requests and the change log) is equal
before and after. :func:`promises` says which checks apply to a case.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from pipeline.auth import EVERY_ORG, Principal, Role
from pipeline.errors import ResourceError
from pipeline.resource import reference
from tests.stigmer_sessions.promises.cases import ACTOR, ORG, Case, Refusal, Scenario
from tests.stigmer_sessions.promises.target import Target

#: A version no record is at (well formed, within the protos' bounds).
STALE_VERSION = "01jstaleversion00000000000"


def assert_unchanged(target: Target, before: dict[str, list[tuple[Any, ...]]], what: str) -> None:
    """The store is as it was in ``before``; else name the tables that changed."""
    after = target.snapshot()
    changed = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    assert not changed, f"{what} wrote to {', '.join(changed)}"


def expect_refused(
    target: Target, code: grpc.StatusCode, call: Callable[[], Any], *, says: str = "", what: str
) -> None:
    """``call`` fails with ``code`` (its message containing ``says``) and writes nothing."""
    before = target.snapshot()
    try:
        call()
    except ResourceError as error:
        assert error.code == code, f"{what}: expected {code.name}, got {error.code.name}: {error.message}"
        assert says in error.message, f"{what}: {error.message!r} does not say {says!r}"
    else:
        raise AssertionError(f"{what}: expected {code.name}, but it succeeded")
    assert_unchanged(target, before, what)


def subject_of(target: Target, case: Case, request: Any, response: Any = None) -> str:
    """The id of the record ``request`` acted on (after it ran: a create's new record)."""
    found = case.subject(target, request)
    if found:
        return found
    assert response is not None and hasattr(response, "metadata"), f"{case.id}: no subject"
    return str(response.metadata.id)


def normalized(message: Any) -> Any:
    """``message`` without what each run generates afresh (ids, version ids), also in the
    messages it lists (a batch's)."""
    copy = type(message)()
    copy.CopyFrom(message)
    meta = copy.DESCRIPTOR.fields_by_name.get("metadata")
    if meta is not None and meta.message_type is not None and meta.message_type.name == "ApiResourceMetadata":
        copy.metadata.ClearField("id")
        copy.metadata.version.ClearField("id")
    elif "id" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("id")
    if "messages" in copy.DESCRIPTOR.fields_by_name:
        for item in copy.messages:
            item.CopyFrom(normalized(item))
    return copy


# --- every operation -------------------------------------------------------------------------


def check_validation(target: Target, case: Case) -> None:
    """A request breaking the protos' rules is INVALID_ARGUMENT and writes nothing."""
    request = case.invalid(target)
    expect_refused(
        target,
        grpc.StatusCode.INVALID_ARGUMENT,
        lambda: case.run(target, request, actor=ACTOR, request_id="req-invalid"),
        what="an invalid request",
    )


def check_effect(target: Target, case: Case, scenario: Scenario) -> None:
    """The operation does what it promises (the scenario's own assertions)."""
    request = scenario.prepare(target)
    subject = case.subject(target, request)
    before = target.record(subject) if subject else None
    response = case.run(target, request, actor=ACTOR)
    scenario.effect(target, request, response, before)


def check_refusal(target: Target, case: Case, refusal: Refusal) -> None:
    """A request the operation must refuse is refused with the right code, writing nothing."""
    request = refusal.prepare(target)
    expect_refused(
        target,
        refusal.code,
        lambda: case.run(target, request, actor=ACTOR, request_id="req-refused"),
        says=refusal.says,
        what=f"refusal {refusal.name!r}",
    )


def check_read_writes_nothing(target: Target, case: Case) -> None:
    """A read leaves the store exactly as it was."""
    request = case.prepare(target)
    before = target.snapshot()
    case.run(target, request, actor=ACTOR)
    assert_unchanged(target, before, "a read")


# --- writes ----------------------------------------------------------------------------------


def check_replay(target: Target, case: Case) -> None:
    """A retry with the same request id and payload gets the first response again, even
    after someone else moved the record on, and writes nothing: one write, one change."""
    request = case.prepare(target)
    count = target.changes_count()
    first = case.run(target, request, actor=ACTOR, request_id="req-1")
    assert target.changes_count() == count + 1, "the first try did not record its changes"
    target.touch(subject_of(target, case, request, first))
    before = target.snapshot()
    again = case.run(target, request, actor=ACTOR, request_id="req-1")
    assert again == first, "the retry did not get the first response"
    assert_unchanged(target, before, "a retry")


def check_conflict(target: Target, case: Case) -> None:
    """The same request id with another payload is ALREADY_EXISTS naming the id, and
    writes nothing."""
    assert case.vary is not None, f"{case.id} has no varied request"
    request = case.prepare(target)
    case.run(target, request, actor=ACTOR, request_id="req-1")
    other = case.vary(request)
    expect_refused(
        target,
        grpc.StatusCode.ALREADY_EXISTS,
        lambda: case.run(target, other, actor=ACTOR, request_id="req-1"),
        says="'req-1'",
        what="a reused request id",
    )


def check_version(target: Target, case: Case) -> None:
    """With a stale expected version the write is ABORTED and writes nothing; with the
    current one it succeeds."""
    request = case.prepare(target)
    subject = case.subject(target, request)
    assert subject, f"{case.id}: a versioned write must act on a stored record"
    current = target.record(subject).metadata.version.id
    expect_refused(
        target,
        grpc.StatusCode.ABORTED,
        lambda: case.run(target, request, actor=ACTOR, expected_version=STALE_VERSION),
        says=STALE_VERSION,
        what="a stale expected version",
    )
    count = target.changes_count()
    case.run(target, request, actor=ACTOR, expected_version=current)
    assert target.changes_count() == count + 1, "the write at the current version did not happen"


def check_dry_run(target: Target, case: Case) -> None:
    """A dry run writes nothing (no record, no change, no remembered request id) and
    returns what the real write then stores."""
    request = case.prepare(target)
    now = time.time_ns()
    before = target.snapshot()
    dry = case.run(target, request, actor=ACTOR, request_id="req-dry", dry_run=True, now_ns=now)
    assert_unchanged(target, before, "a dry run")
    count = target.changes_count()
    real = case.run(target, request, actor=ACTOR, request_id="req-dry", now_ns=now)
    assert target.changes_count() == count + 1, (
        "the write after a dry run recorded no change (was the dry run's request id remembered?)"
    )
    assert normalized(dry) == normalized(real), "the dry run did not return what the write stores"


def check_quota(target: Target, case: Case) -> None:
    """A create into a full org is RESOURCE_EXHAUSTED and writes nothing."""
    assert case.quota is not None and case.seed is not None and target.quota is not None
    request: Any = case.quota(target)
    org = request.metadata.org
    have = sum(1 for r in target.records() if r.metadata.org == org)
    for i in range(have, target.quota):
        case.seed(target, org, f"filler {i}")
    expect_refused(
        target,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        lambda: case.run(target, request, actor=ACTOR),
        says=repr(org),
        what="a create into a full org",
    )


def check_one_change(target: Target, case: Case, scenario: Scenario) -> None:
    """An effective write records exactly one change of its kind (a batch too), of the right
    type, about the right record (as it is now stored; as it was, for a delete), by the
    right actor and request; any change it records of another kind (a cascade) names the
    same actor, request and cause. A change about child records (messages appended: one, or
    a batch) carries them as returned, in order, and a reference to the record instead of a
    copy."""
    request = scenario.prepare(target)
    count = target.changes_count()
    others = {kind: len(target.changes(kind=kind)) for kind in target.other_kinds()}
    response = case.run(target, request, actor=ACTOR, request_id="req-change", caused_by="cause")
    changes = target.changes()
    assert len(changes) == count + 1, f"{len(changes) - count} changes recorded, not 1"
    for kind, had in others.items():  # what it did to dependents (a cascade) is its too
        for other in target.changes(kind=kind)[had:]:
            assert (other.actor_id, other.request_id, other.caused_by) == (ACTOR, "req-change", "cause"), (
                f"a {other.type} it recorded names another actor, request or cause"
            )
    subject = subject_of(target, case, request, response)
    stored = target.record(subject)
    child_field = target.kind.event_child_field
    children = list(response.messages) if hasattr(response, "messages") else [response]  # a batch: its items
    change = changes[-1]
    assert change.type == scenario.change_type, f"recorded {change.type!r}, not {scenario.change_type!r}"
    assert (change.resource_kind, change.resource_id) == (target.kind.name, subject)
    assert (change.actor_id, change.request_id, change.caused_by) == (ACTOR, "req-change", "cause")
    carried = target.changed_resource(change)
    if child_field and getattr(change, child_field):
        assert list(getattr(change, child_field)) == children, "the change carries other children"
        assert carried == reference(stored), "the change carries more, or other, than a reference"
    else:
        assert carried == (stored if stored is not None else response), "the change carries another state"
    assert change.org == carried.metadata.org


def check_noop(target: Target, case: Case) -> None:
    """A request that changes nothing writes nothing (no version, no change) and returns
    the record as stored."""
    assert case.noop is not None
    request = case.noop(target)
    subject = case.subject(target, request)
    assert subject, f"{case.id}: a no-op acts on a stored record"
    before = target.snapshot()
    response = case.run(target, request, actor=ACTOR)
    assert_unchanged(target, before, "a no-op")
    assert response == target.record(subject), "a no-op did not return the stored record"


# --- authorization (a principal variant of every operation) --------------------------------

#: An org no case puts anything in: a principal of it alone may read nothing of ORG.
OUTSIDE_ORG = "outsider-org"


def role_needed(case: Case) -> Role:
    """docs/security.md: viewers read, editors also write, admins also delete."""
    if case.operation == "delete":
        return Role.ADMIN
    return Role.EDITOR if case.write else Role.VIEWER


def check_authorized(target: Target, case: Case) -> None:
    """The main scenario, run by an authenticated principal holding just the role it needs
    in the case's org (and named as the case's actor), does what it promises. It may also
    read every org: some scenarios read across orgs (getByAgent's page of every org)."""
    request = case.prepare(target)
    subject = case.subject(target, request)
    before = target.record(subject) if subject else None
    principal = Principal(ACTOR, {ORG: role_needed(case), EVERY_ORG: Role.VIEWER})
    response = case.run(target, request, actor=ACTOR, principal=principal)
    case.effect(target, request, response, before)


def check_outsider(target: Target, case: Case) -> None:
    """A principal with every role, but only in another org, gets nothing of the case's
    org: the request is refused (NOT_FOUND for a resource it may not read, exactly as for a
    missing one; PERMISSION_DENIED for an org it names), writing nothing; or, for a read
    naming no org, answered with nothing of that org."""
    request = case.prepare(target)
    outsider = Principal("outsider", {OUTSIDE_ORG: Role.ADMIN})
    before = target.snapshot()
    try:
        response = case.run(target, request, request_id="req-outsider", principal=outsider)
    except ResourceError as error:
        refused = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)
        assert error.code in refused, f"an outsider got {error.code.name}: {error.message}"
    else:
        assert not case.write, "an outsider's write succeeded"
        assert ORG.encode() not in response.SerializeToString(), f"an outsider read {ORG}'s data"
    assert_unchanged(target, before, "an outsider's request")


def check_weaker_role(target: Target, case: Case) -> None:
    """A principal one role short in the case's org (a viewer writing, an editor deleting)
    is PERMISSION_DENIED naming the org, writing nothing."""
    request = case.prepare(target)
    weaker = Principal(ACTOR, {ORG: Role(role_needed(case) - 1)})
    expect_refused(
        target,
        grpc.StatusCode.PERMISSION_DENIED,
        lambda: case.run(target, request, actor=ACTOR, principal=weaker),
        says=repr(ORG),
        what="a write by a principal one role short",
    )


# --- which apply -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Promise:
    name: str
    check: Callable[[Target, Case], None]


def _bound(check: Callable[[Target, Case, Any], None], item: Any) -> Callable[[Target, Case], None]:
    return lambda target, case: check(target, case, item)


def promises(case: Case) -> list[Promise]:
    """Every promise that applies to ``case``, in a stable order with stable names."""
    found = [Promise("validation", check_validation)]
    if case.write:
        found += [
            Promise("replay", check_replay),
            Promise("conflict", check_conflict),
            Promise("dry-run", check_dry_run),
        ]
    else:
        found.append(Promise("writes-nothing", check_read_writes_nothing))
    if case.versioned:
        found.append(Promise("version", check_version))
    if case.quota is not None:
        found.append(Promise("quota", check_quota))
    if case.noop is not None:
        found.append(Promise("no-op", check_noop))
    for scenario in case.scenarios:
        suffix = "" if scenario.name == "main" else f"-{scenario.name}"
        found.append(Promise(f"effect{suffix}", _bound(check_effect, scenario)))
        if case.write:
            found.append(Promise(f"one-change{suffix}", _bound(check_one_change, scenario)))
    found += [Promise(f"refuses-{r.name}", _bound(check_refusal, r)) for r in case.refusals]
    found += [Promise("authorized", check_authorized), Promise("refuses-outsider", check_outsider)]
    if case.write:
        found.append(Promise("refuses-weaker-role", check_weaker_role))
    return found
