-- Roles: what each dashboard user may do, per site or for every site. A membership is a user, a
-- site (`*`: every site, those added later too) and a role: `owner` (everything), `admin`
-- (everything on the site but its owners and the installation), `viewer` (reads its statistics).
-- A change writes the row again with a newer updated_at (deleted = 1 for a removal).
CREATE TABLE IF NOT EXISTS memberships
(
    user        String,
    site        LowCardinality(String),
    role        LowCardinality(String),
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (user, site);

-- Users made before roles keep the rights they had: owner of every site. Dated when the user was
-- made, so that any later change wins; a user who already has a membership is left alone.
INSERT INTO memberships (user, site, role, updated_at, deleted)
SELECT name, '*', 'owner', created_at, 0 FROM users FINAL
WHERE deleted = 0 AND name NOT IN (SELECT user FROM memberships);

-- Invitations: a link an admin sends so that a person sets their own password and joins with a
-- role. Only a SHA-256 of the link's secret is kept (as for tokens); it is good once, until
-- expires_at. Accepting or revoking writes the row again with used = 1.
CREATE TABLE IF NOT EXISTS invitations
(
    id          String,
    secret_hash String,
    name        String,
    site        LowCardinality(String),
    role        LowCardinality(String),
    invited_by  String,
    created_at  DateTime64(3, 'UTC'),
    expires_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC'),
    used        UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id
