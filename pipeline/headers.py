"""The metadata headers that carry a call's options, shared by the server (which reads them:
:class:`pipeline.grpc_adapter.CallOptions`) and clients (which send them). A module of its
own so a client can import the names without the server."""

ACTOR_HEADER = "x-actor-id"
IF_MATCH_HEADER = "x-if-match"
CAUSED_BY_HEADER = "x-caused-by"
REQUEST_ID_HEADER = "x-request-id"
DRY_RUN_HEADER = "x-dry-run"
CASCADE_HEADER = "x-cascade"
#: The call option each header carries (the keyword the typed methods pass to ``call``).
OPTION_HEADERS = {
    "actor": ACTOR_HEADER,
    "expected_version": IF_MATCH_HEADER,
    "request_id": REQUEST_ID_HEADER,
    "dry_run": DRY_RUN_HEADER,
    "caused_by": CAUSED_BY_HEADER,
    "cascade": CASCADE_HEADER,
}
