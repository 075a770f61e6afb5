-- Per-site API tokens (`pat_<id>_<secret>`) and shared links (`shr_<id>_<secret>`). Only a
-- SHA-256 of the secret is kept (base64url), and for a shared link with a passphrase its
-- scrypt hash (`scrypt$N$r$p$salt$hash`, empty without one): the store can check a token but
-- cannot hand one out. Revoking writes the row again with revoked = 1 and a newer updated_at.
CREATE TABLE IF NOT EXISTS tokens
(
    id              String,
    site            LowCardinality(String),
    scopes          Array(LowCardinality(String)),
    name            String,
    secret_hash     String,
    passphrase_hash String DEFAULT '',
    expires_at      Nullable(DateTime64(3, 'UTC')),
    created_at      DateTime64(3, 'UTC'),
    updated_at      DateTime64(3, 'UTC'),
    revoked         UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id;
