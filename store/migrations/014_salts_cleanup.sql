-- An expired salt's files must leave the disk seconds after its partition is dropped. The
-- cleanup thread backs off while it finds nothing to do, up to max_cleanup_delay_period
-- (300 s by default): on a quiet table the files stayed for minutes. Keep it at one second.
ALTER TABLE salts MODIFY SETTING max_cleanup_delay_period = 1;
