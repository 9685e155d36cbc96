"""Update a session by ``metadata.id``.

``ValidateProto -> LoadExisting -> BuildUpdateState -> Persist``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import BuildUpdateState, LoadExisting, Persist, ValidateProto
from stigmer_sessions.api import Session


def build(validator: protovalidate.Validator | None = None) -> Pipeline[Session]:
    return Pipeline(
        "session.update",
        [ValidateProto(validator), LoadExisting(), BuildUpdateState(), Persist()],
        write=True,
    )
