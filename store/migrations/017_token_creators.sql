-- Tokens belong to whoever made them: `created_by` is the signed-in user who made a token ('' for
-- the admin token and the CLI; a session's own user), `created_by_session` the session it was
-- made through ('' when none). Removing a user revokes what they made; ending a session (signing
-- out, a new password, an admin) revokes the tokens made through it.
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS created_by String DEFAULT '';
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS created_by_session String DEFAULT ''
