"""EnforceBatchLimits: a batch of messages obeys each message's limits and a budget of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import FieldViolation, InvalidArgument
from pipeline.steps.enforce_size_limits import size_of
from stigmer_sessions.steps.append_message import body_size, content_violation


@dataclass(frozen=True, slots=True)
class EnforceBatchLimits:
    """Reads ``ctx.input`` (an AppendSessionMessagesRequest). Raises InvalidArgument with
    one violation per limit broken, naming the item (``messages[3].content``,
    ``messages[3].metadata``) or the batch (``messages``): at most ``max_messages``
    messages, each within appendMessage's limits (content UTF-8 bytes plus payload bytes,
    metadata keys plus values), and at most ``max_bytes`` of content, payload and metadata in
    total.

    Every violation is found before anything is written, so a client fixes its batch in
    one round; the budget keeps one write transaction (and its changes) of bounded size
    even when every message is within its own limit.
    """

    max_content_bytes: int
    max_metadata_bytes: int
    max_messages: int
    max_bytes: int

    def __call__(self, ctx: RequestContext[Any]) -> None:
        messages = ctx.input.messages
        found: list[FieldViolation] = []
        if len(messages) > self.max_messages:
            found.append(
                FieldViolation(
                    "messages",
                    "messages.max_items",
                    f"has {len(messages)} messages; the limit is {self.max_messages}",
                )
            )
        total = 0
        for i, message in enumerate(messages):
            content = content_violation(f"messages[{i}].content", message, self.max_content_bytes)
            if content is not None:
                found.append(content)
            metadata = size_of(message.metadata)
            if metadata > self.max_metadata_bytes:
                found.append(
                    FieldViolation(
                        f"messages[{i}].metadata",
                        "size.max_bytes",
                        f"is {metadata} bytes in total; the limit is {self.max_metadata_bytes} bytes",
                    )
                )
            total += body_size(message) + metadata
        if total > self.max_bytes:
            found.append(
                FieldViolation(
                    "messages",
                    "messages.max_bytes",
                    f"is {total} bytes of content, payload and metadata in total; "
                    f"the limit is {self.max_bytes} bytes",
                )
            )
        if found:
            raise InvalidArgument.listing(found, "batch too large")
