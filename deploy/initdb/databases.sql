-- The registry and the journal in databases of their own (the journal outlives the
-- registry and is backed up apart).
CREATE DATABASE registry;
CREATE DATABASE journal;
