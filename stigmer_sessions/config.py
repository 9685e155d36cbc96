"""What a deployment chooses: lifecycle, quotas, generated names, size limits and the
response byte budget (docs/limits.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pipeline.lifecycle import Lifecycle
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from pipeline.steps import SizeLimit
from stigmer_sessions.steps.append_message import DEFAULT_MAX_CONTENT_BYTES

BUILTIN_LIFECYCLES = ("default", "reveal", "worker")
KIB, MIB = 1024, 1024 * 1024
#: Kubernetes' bound on a resource's annotations, and the same for the client's spec data.
DEFAULT_MAX_ANNOTATIONS_BYTES = 256 * KIB
DEFAULT_MAX_SPEC_METADATA_BYTES = 256 * KIB
#: A session as sent (serialized); lists, changes and watches carry whole sessions.
DEFAULT_MAX_SESSION_BYTES = 1 * MIB
DEFAULT_MAX_MESSAGE_METADATA_BYTES = 64 * KIB
#: appendMessages: as many messages as the protos allow in one request, and content plus
#: metadata in total such that its answer and its one change (which carries every message)
#: stay well under a default client's 4 MiB receive limit, framing of 1000 messages included.
DEFAULT_MAX_BATCH_MESSAGES = 1000
DEFAULT_MAX_BATCH_BYTES = 2 * MIB
#: gRPC's default receive limit: the server never accepts less.
GRPC_DEFAULT_RECEIVE_BYTES = 4 * MIB
#: How far over a configured limit a request may be and still get the clear
#: INVALID_ARGUMENT naming the limit (beyond it, the transport refuses it first).
RECEIVE_HEADROOM_BYTES = 4 * MIB


def load_lifecycle(name_or_path: str | Path = "default") -> Lifecycle:
    """A shipped lifecycle by name (default, reveal, worker) or a TOML file by path."""
    if str(name_or_path) in BUILTIN_LIFECYCLES:
        source = resources.files("stigmer_sessions") / "lifecycles" / f"{name_or_path}.toml"
        with resources.as_file(source) as path:
            return Lifecycle.from_toml(path)
    return Lifecycle.from_toml(name_or_path)


@dataclass(frozen=True)
class SessionConfig:
    lifecycle: Lifecycle = field(default_factory=load_lifecycle)
    #: At most this many sessions per org / per creator in an org (None: unlimited).
    max_sessions_per_org: int | None = None
    max_sessions_per_owner: int | None = None
    #: Name of a session created without one; ``date`` (UTC) and ``n`` are filled in.
    name_pattern: str = "session-{date}-{n:03d}"
    #: Message content (UTF-8 bytes) and message metadata (keys plus values).
    max_message_bytes: int = DEFAULT_MAX_CONTENT_BYTES
    max_message_metadata_bytes: int = DEFAULT_MAX_MESSAGE_METADATA_BYTES
    #: appendMessages: at most this many messages, and content plus metadata in total.
    max_batch_messages: int = DEFAULT_MAX_BATCH_MESSAGES
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    #: metadata.annotations and spec.metadata in total (keys plus values); the session as sent.
    max_annotations_bytes: int = DEFAULT_MAX_ANNOTATIONS_BYTES
    max_spec_metadata_bytes: int = DEFAULT_MAX_SPEC_METADATA_BYTES
    max_session_bytes: int = DEFAULT_MAX_SESSION_BYTES
    #: Pages (list, listByAgent, listMessages, resume, listChanges) and watch batches stop
    #: before this many bytes, still with at least one entry (default 3 MiB: under a
    #: default client's 4 MiB receive limit).
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: Referential integrity (off by default, as in Stigmer): a session's agent instance must
    #: exist in its org, and an agent instance with sessions is deleted only with cascade.
    require_agent_instance: bool = False

    def session_size_limits(self) -> tuple[SizeLimit, ...]:
        """What create, update and apply check (EnforceSizeLimits)."""
        return (
            SizeLimit("metadata.annotations", self.max_annotations_bytes),
            SizeLimit("spec.metadata", self.max_spec_metadata_bytes),
            SizeLimit("", self.max_session_bytes),
        )

    def receive_limit(self) -> int:
        """The gRPC server's receive limit: the largest request the limits allow (a session,
        a message, or a batch at its byte budget, whose framing is small beside the
        headroom), plus headroom so a request somewhat over a limit still reaches the check
        that names it; never below gRPC's default."""
        largest = max(
            self.max_session_bytes,
            self.max_message_bytes + self.max_message_metadata_bytes,
            self.max_batch_bytes,
        )
        return max(GRPC_DEFAULT_RECEIVE_BYTES, largest + RECEIVE_HEADROOM_BYTES)
