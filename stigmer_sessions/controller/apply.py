"""Apply (create or update) a session, by id if given, else by (org, slug from name).

``ValidateProto -> CheckIdempotency -> ResolveSlug -> LoadForApply -> CheckVersion ->
BuildApplyState -> Persist -> AppendEvent -> RememberRequest``
"""

from __future__ import annotations

import protovalidate

from pipeline.events import EventHub
from pipeline.idempotency import DEFAULT_TTL_NS
from pipeline.pipeline import Pipeline
from pipeline.steps import (
    AppendEvent,
    BuildApplyState,
    CheckIdempotency,
    CheckVersion,
    LoadForApply,
    Persist,
    RememberRequest,
    ResolveSlug,
    ValidateProto,
)
from stigmer_sessions.api import Session


def build(
    validator: protovalidate.Validator | None = None,
    *,
    request_ttl_ns: int = DEFAULT_TTL_NS,
    hub: EventHub | None = None,
) -> Pipeline[Session]:
    return Pipeline(
        "session.apply",
        [
            ValidateProto(validator),
            CheckIdempotency(),
            ResolveSlug(),
            LoadForApply(),
            CheckVersion(),
            BuildApplyState(),
            Persist(),
            AppendEvent(hub=hub),
            RememberRequest(request_ttl_ns),
        ],
        write=True,
    )
