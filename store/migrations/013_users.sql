-- People who sign in to the dashboards with a name and a password. Only the password's scrypt
-- hash is kept (`scrypt$N$r$p$salt$hash`, salt and hash in base64url); removing a user writes
-- the row again with deleted = 1 and a newer updated_at. Their sessions are `ses_` rows in tokens.
CREATE TABLE IF NOT EXISTS users
(
    name            String,
    passphrase_hash String,
    created_at      DateTime64(3, 'UTC'),
    updated_at      DateTime64(3, 'UTC'),
    deleted         UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;
