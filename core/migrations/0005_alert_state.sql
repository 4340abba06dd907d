-- Alert state: one open alert per ongoing problem (requirement 5.3 without the noise). An alert
-- with a fingerprint (what it is about: a rule on one pipeline's metric, an input of the
-- scheduler) is raised when the problem starts; while it lasts, each repeat adds to occurrences
-- and moves last_seen_at instead of raising a new alert, and resolved_at closes it when the
-- problem is gone. Alerts without a fingerprint are one-off, as before. Acknowledging is apart:
-- someone has seen it, whether or not it still happens.

ALTER TABLE alerts ADD COLUMN fingerprint VARCHAR;
ALTER TABLE alerts ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_seen_at TIMESTAMP;
ALTER TABLE alerts ADD COLUMN resolved_at TIMESTAMP;   -- NULL: open
UPDATE alerts SET last_seen_at = raised_at;
