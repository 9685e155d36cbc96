"""The reusable steps, one per module; re-exported here for convenient imports."""

from pipeline.steps.append_event import AppendEvent
from pipeline.steps.authorize import Authorize
from pipeline.steps.build_apply_state import BuildApplyState
from pipeline.steps.build_list_response import BuildListResponse
from pipeline.steps.build_new_state import BuildNewState
from pipeline.steps.build_update_state import BuildUpdateState
from pipeline.steps.check_duplicate import CheckDuplicate
from pipeline.steps.check_idempotency import CheckIdempotency
from pipeline.steps.check_version import CheckVersion
from pipeline.steps.delete_children import DeleteChildren
from pipeline.steps.delete_resource import DeleteResource
from pipeline.steps.enforce_quota import EnforceQuota
from pipeline.steps.enforce_size_limits import EnforceSizeLimits, SizeLimit
from pipeline.steps.extract_resource_id import ExtractResourceId
from pipeline.steps.generate_name import GenerateName
from pipeline.steps.list_events import ListEvents
from pipeline.steps.list_page import ListPage
from pipeline.steps.load_by_reference import LoadByReference
from pipeline.steps.load_existing import LoadExisting
from pipeline.steps.load_existing_for_delete import LoadExistingForDelete
from pipeline.steps.load_for_apply import LoadForApply
from pipeline.steps.load_target import LoadTarget
from pipeline.steps.page_by_number import PageByNumber
from pipeline.steps.persist import Persist
from pipeline.steps.reject_client_id import RejectClientId
from pipeline.steps.remember_request import RememberRequest
from pipeline.steps.require_phase import RequirePhase
from pipeline.steps.resolve_slug import ResolveSlug
from pipeline.steps.respond import Respond
from pipeline.steps.scope_to_index import ScopeToIndex
from pipeline.steps.set_initial_phase import SetInitialPhase
from pipeline.steps.validate_proto import ValidateProto
from pipeline.steps.validate_transition import ValidateTransition

__all__ = [
    "AppendEvent",
    "Authorize",
    "BuildApplyState",
    "BuildListResponse",
    "BuildNewState",
    "BuildUpdateState",
    "CheckDuplicate",
    "CheckIdempotency",
    "CheckVersion",
    "DeleteChildren",
    "DeleteResource",
    "EnforceQuota",
    "EnforceSizeLimits",
    "ExtractResourceId",
    "GenerateName",
    "ListEvents",
    "ListPage",
    "LoadByReference",
    "LoadExisting",
    "LoadExistingForDelete",
    "LoadForApply",
    "LoadTarget",
    "PageByNumber",
    "Persist",
    "RejectClientId",
    "RememberRequest",
    "RequirePhase",
    "ResolveSlug",
    "Respond",
    "ScopeToIndex",
    "SetInitialPhase",
    "SizeLimit",
    "ValidateProto",
    "ValidateTransition",
]
