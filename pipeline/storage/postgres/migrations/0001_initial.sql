-- stigmer-sessions schema, version 1. Every user-derived key is bytea (pipeline.keycodec.pack):
-- text cannot hold NUL. Ids and names are COLLATE "C" so index order is byte order, the same
-- order LMDB scans in, whatever the database's default collation is.

CREATE TABLE records (
    kind text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (kind, id)
);

-- One row per unique index entry: the primary key IS the uniqueness constraint (e.g. index
-- "slug", key pack(org, slug)), so two concurrent creates of one name cannot both commit.
CREATE TABLE unique_entries (
    kind text COLLATE "C" NOT NULL,
    idx text COLLATE "C" NOT NULL,
    key bytea NOT NULL,
    id text COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, idx, key)
);

CREATE TABLE index_entries (
    kind text COLLATE "C" NOT NULL,
    idx text COLLATE "C" NOT NULL,
    key bytea NOT NULL,
    id text COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, idx, key, id)
);

CREATE TABLE changes (
    revision bigint PRIMARY KEY,
    kind text COLLATE "C" NOT NULL,
    resource_id text COLLATE "C" NOT NULL,
    org bytea NOT NULL,
    time_ns bigint NOT NULL,
    data bytea NOT NULL
);
CREATE INDEX changes_by_kind ON changes (kind, revision);
CREATE INDEX changes_by_resource ON changes (kind, resource_id, revision);
CREATE INDEX changes_by_org ON changes (kind, org, revision);

-- The one row that hands out revisions: its row lock, held from append to commit, makes
-- revisions gap-free and in commit order (a sequence is neither).
CREATE TABLE change_head (
    id smallint PRIMARY KEY CHECK (id = 1),
    current bigint NOT NULL,
    oldest bigint NOT NULL
);
INSERT INTO change_head (id, current, oldest) VALUES (1, 0, 1);

CREATE TABLE children (
    kind text COLLATE "C" NOT NULL,
    parent_id text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (kind, parent_id, seq)
);

CREATE TABLE requests (
    kind text COLLATE "C" NOT NULL,
    request_id bytea NOT NULL,
    expires_at_ns bigint NOT NULL,
    fingerprint bytea NOT NULL,
    response bytea NOT NULL,
    PRIMARY KEY (kind, request_id)
);
CREATE INDEX requests_by_expiry ON requests (expires_at_ns);

CREATE TABLE counters (
    name bytea PRIMARY KEY,
    value bigint NOT NULL
);

-- Rows that exist only to be locked (FOR UPDATE): a quota count takes one before counting.
CREATE TABLE locks (
    name bytea PRIMARY KEY
);
