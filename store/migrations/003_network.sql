-- The visitor's network (ISP / organisation name from the ASN database), when a policy allows it.
ALTER TABLE events ADD COLUMN IF NOT EXISTS network LowCardinality(String) AFTER city;
