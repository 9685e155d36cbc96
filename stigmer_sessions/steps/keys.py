"""The context keys only session steps exchange (the generic ones are in ``pipeline.keys``)."""

from __future__ import annotations

from pipeline.context import Key
from stigmer_sessions.api import SessionMessageList

#: The messages a batch appended (AppendMessages), in sequence order, as the response
#: lists them: ``total_size`` is the session's message count after the batch.
APPENDED: Key[SessionMessageList] = Key("appended")
