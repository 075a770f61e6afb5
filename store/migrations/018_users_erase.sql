-- A removed user's password hash must leave the disk at once, not at some later merge: removing
-- a user rewrites the table (OPTIMIZE ... FINAL, retention/erase.ts) and the parts it replaces,
-- which still hold the hash, are deleted within a second or two (the default keeps them 8 minutes;
-- the cleanup thread would also back off up to 5 minutes on a quiet table, see 014).
ALTER TABLE users MODIFY SETTING old_parts_lifetime = 1, cleanup_delay_period = 1, cleanup_delay_period_random_add = 0, max_cleanup_delay_period = 1;
