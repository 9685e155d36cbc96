"""Every SQL statement the request paths run, in one place, unqualified (the schema comes from
the connection's ``search_path``), so a test can EXPLAIN each of them on a loaded database
and check it never reads a table sequentially.

Scans are keyset-paginated: ``... > %s ORDER BY ... LIMIT n`` walks a B-tree from where the
previous batch stopped, so a page costs O(page), wherever it starts.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.keycodec import pack

#: The largest batch a scan reads in one statement. Batches start at FIRST_BATCH rows and
#: double up to it: a page that stops early (a byte budget filled by a few 1 MiB messages
#: or records) reads a few rows more than it returns, not 128 of them, while a long walk
#: still costs one round trip per 128 rows.
BATCH = 128
FIRST_BATCH = 8


def batch_sizes() -> Iterator[int]:
    """The LIMIT of each successive statement of one scan: 8, 16, 32, 64, 128, 128, ..."""
    size = FIRST_BATCH
    while True:
        yield size
        size = min(size * 2, BATCH)


RECORD_GET = "SELECT data FROM records WHERE kind = %s AND id = %s"
RECORD_GET_FOR_UPDATE = RECORD_GET + " FOR UPDATE"
RECORD_UPSERT = (
    "INSERT INTO records (kind, id, data) VALUES (%s, %s, %s) "
    "ON CONFLICT (kind, id) DO UPDATE SET data = EXCLUDED.data"
)
RECORD_DELETE = "DELETE FROM records WHERE kind = %s AND id = %s"
RECORD_COUNT = "SELECT count(*) FROM records WHERE kind = %s"
RECORD_SCAN_FIRST = "SELECT id, data FROM records WHERE kind = %s ORDER BY id LIMIT %s"
RECORD_SCAN_AFTER = "SELECT id, data FROM records WHERE kind = %s AND id > %s ORDER BY id LIMIT %s"
RECORD_SCAN_FIRST_DESC = "SELECT id, data FROM records WHERE kind = %s ORDER BY id DESC LIMIT %s"
RECORD_SCAN_BEFORE = "SELECT id, data FROM records WHERE kind = %s AND id < %s ORDER BY id DESC LIMIT %s"

UNIQUE_GET = "SELECT id FROM unique_entries WHERE kind = %s AND idx = %s AND key = %s"
UNIQUE_INSERT = "INSERT INTO unique_entries (kind, idx, key, id) VALUES (%s, %s, %s, %s)"
UNIQUE_DELETE = "DELETE FROM unique_entries WHERE kind = %s AND idx = %s AND key = %s AND id = %s"
UNIQUE_COUNT = "SELECT count(*) FROM unique_entries WHERE kind = %s AND idx = %s AND key = %s"
INDEX_INSERT = "INSERT INTO index_entries (kind, idx, key, id) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
INDEX_DELETE = "DELETE FROM index_entries WHERE kind = %s AND idx = %s AND key = %s AND id = %s"
INDEX_COUNT = "SELECT count(*) FROM index_entries WHERE kind = %s AND idx = %s AND key = %s"
_INDEX_SCAN = (
    "SELECT e.id, r.data FROM index_entries e LEFT JOIN records r ON r.kind = e.kind AND r.id = e.id "
    "WHERE e.kind = %s AND e.idx = %s AND e.key = %s"
)
INDEX_SCAN_FIRST = f"{_INDEX_SCAN} ORDER BY e.id LIMIT %s"
INDEX_SCAN_AFTER = f"{_INDEX_SCAN} AND e.id > %s ORDER BY e.id LIMIT %s"
INDEX_SCAN_FIRST_DESC = f"{_INDEX_SCAN} ORDER BY e.id DESC LIMIT %s"
INDEX_SCAN_BEFORE = f"{_INDEX_SCAN} AND e.id < %s ORDER BY e.id DESC LIMIT %s"
_UNIQUE_SCAN = (
    "SELECT e.id, r.data FROM unique_entries e LEFT JOIN records r ON r.kind = e.kind AND r.id = e.id "
    "WHERE e.kind = %s AND e.idx = %s AND e.key = %s"
)

LOCK_CREATE = "INSERT INTO locks (name) VALUES (%s) ON CONFLICT DO NOTHING"
LOCK_TAKE = "SELECT 1 FROM locks WHERE name = %s FOR UPDATE"

# change_head is one row: a plan for it reads one page whatever it is (see the plan test).
# The next revision and its wake-up in one round trip (NOTIFY is delivered at commit only).
HEAD_NEXT_NOTIFY = (
    "WITH head AS (UPDATE change_head SET current = current + 1 WHERE id = 1 RETURNING current) "
    "SELECT current, pg_notify(%s, current::text) FROM head"
)
HEAD_GET = "SELECT current, oldest FROM change_head WHERE id = 1"
HEAD_GET_FOR_UPDATE = HEAD_GET + " FOR UPDATE"
HEAD_SET = "UPDATE change_head SET current = %s, oldest = %s WHERE id = 1"
HEAD_SET_CURRENT = "UPDATE change_head SET current = %s WHERE id = 1"
HEAD_SET_OLDEST = "UPDATE change_head SET oldest = %s WHERE id = 1"
CHANGE_INSERT = (
    "INSERT INTO changes (revision, kind, resource_id, org, time_ns, data) VALUES (%s, %s, %s, %s, %s, %s)"
)
_CHANGE_COLS = "SELECT revision, kind, resource_id, org, time_ns, data FROM changes"
CHANGE_SCAN_KIND = f"{_CHANGE_COLS} WHERE kind = %s AND revision > %s ORDER BY revision LIMIT %s"
CHANGE_SCAN_RESOURCE = (
    f"{_CHANGE_COLS} WHERE kind = %s AND resource_id = %s AND revision > %s ORDER BY revision LIMIT %s"
)
CHANGE_SCAN_ORG = f"{_CHANGE_COLS} WHERE kind = %s AND org = %s AND revision > %s ORDER BY revision LIMIT %s"
CHANGE_OLDEST = "SELECT revision, time_ns FROM changes WHERE revision >= %s ORDER BY revision LIMIT %s"
CHANGE_DELETE_UPTO = "DELETE FROM changes WHERE revision >= %s AND revision <= %s"

CHILD_LAST = "SELECT seq FROM children WHERE kind = %s AND parent_id = %s ORDER BY seq DESC LIMIT 1"
CHILD_INSERT = "INSERT INTO children (kind, parent_id, seq, data) VALUES (%s, %s, %s, %s)"
CHILD_SCAN = (
    "SELECT seq, data FROM children WHERE kind = %s AND parent_id = %s AND seq > %s AND seq < %s "
    "ORDER BY seq LIMIT %s"
)
CHILD_SCAN_DESC = (
    "SELECT seq, data FROM children WHERE kind = %s AND parent_id = %s AND seq > %s AND seq < %s "
    "ORDER BY seq DESC LIMIT %s"
)
CHILD_DELETE = "DELETE FROM children WHERE kind = %s AND parent_id = %s"
CHILD_DELETE_AFTER = "DELETE FROM children WHERE kind = %s AND parent_id = %s AND seq > %s"

REQUEST_CLAIM = (
    "INSERT INTO requests (kind, request_id, expires_at_ns, fingerprint, response) "
    "VALUES (%s, %s, 0, '', '') ON CONFLICT DO NOTHING"
)
REQUEST_GET = "SELECT expires_at_ns, fingerprint, response FROM requests WHERE kind = %s AND request_id = %s"
REQUEST_GET_FOR_UPDATE = REQUEST_GET + " FOR UPDATE"
REQUEST_UPSERT = (
    "INSERT INTO requests (kind, request_id, expires_at_ns, fingerprint, response) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, request_id) DO UPDATE SET "
    "expires_at_ns = EXCLUDED.expires_at_ns, fingerprint = EXCLUDED.fingerprint, response = EXCLUDED.response"
)
# Purging is a select of the expired keys then deletes by key: one index read when nothing has
# expired (every write asks), and no semi-join whose generic plan could scan the table.
REQUEST_EXPIRED = (
    "SELECT kind, request_id FROM requests WHERE expires_at_ns <= %s "
    "ORDER BY expires_at_ns LIMIT %s FOR UPDATE SKIP LOCKED"
)
REQUEST_DELETE = "DELETE FROM requests WHERE kind = %s AND request_id = %s"

INDEX_SET_GET = "SELECT names FROM index_sets WHERE kind = %s"
INDEX_SET_PUT = (
    "INSERT INTO index_sets (kind, names) VALUES (%s, %s) "
    "ON CONFLICT (kind) DO UPDATE SET names = EXCLUDED.names"
)

COUNTER_ADD = (
    "INSERT INTO counters (name, value) VALUES (%s, %s) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + EXCLUDED.value RETURNING value"
)


def unique_scan(first: bool, reverse: bool) -> str:
    """A scan under a unique index: at most one entry, so no keyset needed beyond the id bound."""
    if first:
        return _UNIQUE_SCAN
    return f"{_UNIQUE_SCAN} AND e.id {'<' if reverse else '>'} %s"


#: The request-path statements with sample parameters, for the plan check. Statements on the
#: one-row change_head are left out on purpose: any plan of a one-row table reads one page.
REQUEST_PATH: dict[str, tuple[str, tuple[object, ...]]] = {
    "record get": (RECORD_GET_FOR_UPDATE, ("k", "id_000100")),
    "record upsert": (RECORD_UPSERT, ("k", "id_000100", b"x")),
    "record delete": (RECORD_DELETE, ("k", "id_000100")),
    "record count": (RECORD_COUNT, ("k",)),
    "record scan first": (RECORD_SCAN_FIRST, ("k", BATCH)),
    "record scan after": (RECORD_SCAN_AFTER, ("k", "id_000100", BATCH)),
    "record scan first desc": (RECORD_SCAN_FIRST_DESC, ("k", BATCH)),
    "record scan before": (RECORD_SCAN_BEFORE, ("k", "id_000100", BATCH)),
    "unique get": (UNIQUE_GET, ("k", "slug", pack("o1", "id_000001"))),
    "unique insert": (UNIQUE_INSERT, ("k", "slug", b"new", "id_x")),
    "unique delete": (UNIQUE_DELETE, ("k", "slug", pack("o1", "id_000001"), "id_1")),
    "unique count": (UNIQUE_COUNT, ("k", "slug", pack("o1", "id_000001"))),
    "unique scan": (unique_scan(False, False), ("k", "slug", pack("o1", "id_000001"), "id_0")),
    "index insert": (INDEX_INSERT, ("k", "org", pack("o1"), "id_x")),
    "index delete": (INDEX_DELETE, ("k", "org", pack("o1"), "id_1")),
    "index count": (INDEX_COUNT, ("k", "org", pack("o1"))),
    "index scan first": (INDEX_SCAN_FIRST, ("k", "org", pack("o1"), BATCH)),
    "index scan after": (INDEX_SCAN_AFTER, ("k", "org", pack("o1"), "id_000100", BATCH)),
    "index scan first desc": (INDEX_SCAN_FIRST_DESC, ("k", "org", pack("o1"), BATCH)),
    "index scan before": (INDEX_SCAN_BEFORE, ("k", "org", pack("o1"), "id_000100", BATCH)),
    "lock create": (LOCK_CREATE, (pack("count", "id_000001"),)),
    "lock take": (LOCK_TAKE, (pack("count", "id_000001"),)),
    "change insert": (CHANGE_INSERT, (10**9, "k", "id_1", pack("o1"), 1, b"x")),
    "change scan kind": (CHANGE_SCAN_KIND, ("k", 100, BATCH)),
    "change scan resource": (CHANGE_SCAN_RESOURCE, ("k", "id_000100", 0, BATCH)),
    "change scan org": (CHANGE_SCAN_ORG, ("k", pack("o1"), 100, BATCH)),
    "change oldest": (CHANGE_OLDEST, (1, 100)),
    "change delete": (CHANGE_DELETE_UPTO, (1, 100)),
    "child last": (CHILD_LAST, ("k", "id_000100")),
    "child insert": (CHILD_INSERT, ("k", "id_000100", 10**6, b"x")),
    "child scan": (CHILD_SCAN, ("k", "id_000100", 0, 2**62, BATCH)),
    "child scan desc": (CHILD_SCAN_DESC, ("k", "id_000100", 0, 2**62, BATCH)),
    "child delete": (CHILD_DELETE, ("k", "id_000100")),
    "child delete after": (CHILD_DELETE_AFTER, ("k", "id_000100", 10**5)),
    "request claim": (REQUEST_CLAIM, ("k", b"r1")),
    "request get": (REQUEST_GET_FOR_UPDATE, ("k", b"r1")),
    "request upsert": (REQUEST_UPSERT, ("k", b"r1", 1, b"f", b"r")),
    "request expired": (REQUEST_EXPIRED, (10, 16)),
    "request delete": (REQUEST_DELETE, ("k", b"r1")),
    "counter add": (COUNTER_ADD, (b"c1", 1)),
}
