"""List a session's messages, oldest first (or newest first), a page at a time.

``ValidateProto -> ListMessages``
"""

from __future__ import annotations

import protovalidate

from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from pipeline.pipeline import Pipeline
from pipeline.steps import ValidateProto
from stigmer_sessions.api import ListSessionMessagesRequest
from stigmer_sessions.steps import ListMessages


def build(
    validator: protovalidate.Validator | None = None, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
) -> Pipeline[ListSessionMessagesRequest]:
    return Pipeline(
        "session.listMessages",
        [ValidateProto(validator), ListMessages(max_bytes=max_response_bytes)],
        write=False,
    )
