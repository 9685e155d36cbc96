"""What a deployment chooses: lifecycle, quotas, generated names, message and response size."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pipeline.lifecycle import Lifecycle
from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES
from stigmer_sessions.steps.append_message import DEFAULT_MAX_CONTENT_BYTES

BUILTIN_LIFECYCLES = ("default", "reveal", "worker")


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
    max_message_bytes: int = DEFAULT_MAX_CONTENT_BYTES
    #: Pages (list, listByAgent, listMessages, resume, listChanges) and watch batches stop
    #: before this many bytes, still with at least one entry (default 3 MiB: under a
    #: default client's 4 MiB receive limit).
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
