"""The typed context keys the generic steps exchange data through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.auth import Principal
from pipeline.context import Key
from pipeline.listing import ListScope, Page, PageRequest

if TYPE_CHECKING:  # authorization reads these keys, so it cannot be imported here
    from pipeline.authorization import Access, Authorizer

#: The slug the request resolves to (ResolveSlug).
SLUG: Key[str] = Key("slug")
#: The id a query or delete targets (ExtractResourceId).
TARGET_ID: Key[str] = Key("target_id")
#: The record as currently stored, for commands that change or delete it; None when absent
#: (LoadExisting, LoadForApply, LoadExistingForDelete).
EXISTING: Key[Any] = Key("existing")
#: True when an update/apply would store exactly what is stored: Persist then writes nothing.
UNCHANGED: Key[bool] = Key("unchanged")
#: The fields of the new state a status-only change moved (dotted paths; absent: unknown),
#: so Persist recomputes only the indexes reading one of them.
CHANGED_FIELDS: Key[frozenset[str]] = Key("changed_fields")
#: The version a write expects the stored record to be at (``x-if-match``; a keyword in the
#: library). Update and apply also take it from the request's ``metadata.version.id``.
EXPECTED_VERSION: Key[str] = Key("expected_version")
#: The client's idempotency key (``x-request-id``), for CheckIdempotency / RememberRequest.
REQUEST_ID: Key[str] = Key("request_id")
#: Set by CheckIdempotency when it answered from a remembered response.
REPLAYED: Key[bool] = Key("replayed")
#: What caused this command (``x-caused-by``); the change's caused_by, else the request id.
CAUSED_BY: Key[str] = Key("caused_by")
#: A delete may take the resource's dependents along (``x-cascade``; a keyword in the
#: library); without it, a kind that guards its dependents refuses the delete.
CASCADE: Key[bool] = Key("cascade")
#: Who is calling, as authentication established it; absent for a trusted in-process
#: caller (the library's default), whom no role restricts.
PRINCIPAL: Key[Principal] = Key("principal")
#: The policy a principal is judged by (Resources sets it; absent: the role rules).
AUTHORIZER: Key[Authorizer] = Key("authorizer")
#: The request's authorization (Authorize): principal, policy, the role the operation
#: needs. Absent for a trusted caller; read through ``pipeline.authorization.access``.
ACCESS: Key[Access] = Key("access")
#: Who acted for the recorded actor (a principal impersonating through ``x-actor-id``).
IMPERSONATED_BY: Key[str] = Key("impersonated_by")
#: The change AppendEvent recorded (with its revision).
EVENT: Key[Any] = Key("event")
#: A child record a command created (e.g. the appended message).
CHILD: Key[Any] = Key("child")
#: The child records a write stored, in order (a batch of messages).
CHILDREN: Key[list[Any]] = Key("children")
#: What the operation returns to its caller.
RESPONSE: Key[Any] = Key("response")
#: Which index a list is served from, set by a kind-specific filter step (optional).
LIST_SCOPE: Key[ListScope] = Key("list_scope")
#: One page of a list (ListPage).
LIST_PAGE: Key[Page] = Key("list_page")
#: Which page a list asks for, set by a step that reads paging fields other than
#: ``page_size``/``page_token`` (PageByNumber); ListPage reads the request's own when absent.
PAGE_REQUEST: Key[PageRequest] = Key("page_request")
