-- Keys the servers sharing this database use alike. `content-hash` keys the
-- fingerprint of a version's secrets in its public content hash: equal secrets give
-- equal hashes on every server, and the hash reveals nothing of them. Created at the
-- first start (random), never changed.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL CHECK (length(value) >= 64)
);
