-- New (0) or returning (1) visitor, from the tracker's last-visit day; only where a policy
-- allows the tracker to keep that day on the device (never an identifier). 2 = unknown.
ALTER TABLE events ADD COLUMN IF NOT EXISTS returning UInt8 DEFAULT 2 AFTER network;
