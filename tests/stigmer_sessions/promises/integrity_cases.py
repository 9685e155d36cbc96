"""The rows run with ``--require-agent-instance`` (kinds ``session+integrity`` and
``agent_instance+integrity``): the writes that flag changes, with every promise of their
plain rows plus the ones referential integrity makes.

A session's create, update and apply must refuse (FAILED_PRECONDITION, writing nothing) a
session naming an agent instance that does not exist, or exists only in another org
(RequireAgentInstance); the plain rows' requests name instances that exist, created by
their setup (``cases.agent_instance_id``). An instance's delete must refuse while sessions
of its org name it, saying how many, unless asked to cascade (GuardSessions); the cascading
delete keeps every promise its plain row keeps.
"""

from __future__ import annotations

from dataclasses import replace

import grpc
from google.protobuf.message import Message

from stigmer_sessions.api import Session
from tests.stigmer_sessions.promises import agent_instance_cases as instances
from tests.stigmer_sessions.promises import cases as sessions
from tests.stigmer_sessions.promises.cases import ORG, Case, Prepare, Refusal, agent_instance_id, copy_of
from tests.stigmer_sessions.promises.target import Target

SESSION_KIND = "session+integrity"
INSTANCE_KIND = "agent_instance+integrity"


def naming(prepare: Prepare, instance: str | None = None) -> Prepare:
    """``prepare``'s session request, naming agent instance ``instance`` (by default: one
    that exists, but in another org)."""

    def prepared(target: Target) -> Message:
        request = copy_of(prepare(target))
        assert isinstance(request, Session), f"not a session write: {type(request).__name__}"
        request.spec.agent_instance_id = instance or agent_instance_id(target, "ain-1", org="elsewhere")
        return request

    return prepared


def refusals(prepare: Prepare, what: str) -> tuple[Refusal, ...]:
    """The two refusals of a session write whose request ``prepare`` builds: naming a
    missing instance, and naming another org's."""
    code = grpc.StatusCode.FAILED_PRECONDITION
    return (
        Refusal(
            f"{what}-missing-instance",
            naming(prepare, instances.MISSING),
            code,
            f"agent instance '{instances.MISSING}' does not exist in org '{ORG}'",
        ),
        Refusal(f"{what}-other-orgs-instance", naming(prepare), code, f"does not exist in org '{ORG}'"),
    )


def _strict(case: Case, *more: Refusal) -> Case:
    return replace(case, kind=SESSION_KIND, refusals=case.refusals + more)


SESSION_CASES: tuple[Case, ...] = (
    _strict(sessions.CREATE, *refusals(sessions.CREATE.prepare, "naming")),
    _strict(sessions.UPDATE, *refusals(sessions.UPDATE.prepare, "moving-to")),
    _strict(
        sessions.APPLY,
        *refusals(sessions.APPLY.prepare, "moving-to"),
        *refusals(lambda t: sessions.new_session(t, "Fresh Plan"), "creating-naming"),
    ),
)

INSTANCE_CASES: tuple[Case, ...] = (
    replace(
        instances.DELETE,
        kind=INSTANCE_KIND,
        more=(),  # its sessions cannot stay: that is the refusal below
        refusals=(
            *instances.DELETE.refusals,
            Refusal(
                "has-sessions",
                instances.with_sessions(2),
                grpc.StatusCode.FAILED_PRECONDITION,
                "still has 2 session(s) in org 'acme'",
            ),
        ),
    ),
    replace(
        instances.DELETE_CASCADE,
        kind=INSTANCE_KIND,
        # No session of another org can name the instance here: that scenario is the plain row's.
        more=tuple(s for s in instances.DELETE_CASCADE.more if s.name != "spares-other-orgs"),
    ),
)

INTEGRITY_CASES: tuple[Case, ...] = SESSION_CASES + INSTANCE_CASES
