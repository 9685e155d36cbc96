-- stigmer-sessions schema, version 2: which indexes the store holds for each kind, so a
-- server enabling an optional index (a per-owner quota, restart recovery) builds it once
-- and maintenance reads the store as it is. No row: a store from before (every index).
CREATE TABLE index_sets (
    kind text COLLATE "C" PRIMARY KEY,
    names text[] NOT NULL
);
