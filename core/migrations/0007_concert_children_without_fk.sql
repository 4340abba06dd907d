-- Box scores and concert_performance no longer declare a foreign key to concerts. DuckDB
-- executes an UPDATE of an indexed column (concerts.artist_id and venue_id are foreign keys, so
-- indexed) as a delete and an insert, and refuses to delete a row another table references, even
-- when the values do not change and even after that table's rows are deleted in the same
-- transaction: with the keys declared, no concert that had results or a performance row could
-- take a second source's record, a cancellation or a new price. The load checks the references
-- of box scores (quarantining orphans) and the quality report counts them; concert_performance is
-- built from concerts. The contract's foreign keys of concerts and of concert_performance to
-- artists and venues stay. Both tables are rebuilt with the same columns, checks and rows:
-- copied aside, dropped and created again under their own names. (Creating a table under another
-- name and renaming it leaves DuckDB's record of who references artists and venues pointing at
-- the old name, after which no artist or venue can be deleted.)

CREATE TEMP TABLE concert_results_kept AS SELECT * FROM concert_results;
DROP TABLE concert_results;
CREATE TABLE concert_results (
    concert_id     VARCHAR PRIMARY KEY,
    shows          INTEGER NOT NULL DEFAULT 1 CHECK (shows >= 1),
    tickets_sold   INTEGER NOT NULL CHECK (tickets_sold >= 0),
    capacity       INTEGER NOT NULL CHECK (capacity > 0),
    gross_revenue  DECIMAL(14, 2) NOT NULL CHECK (gross_revenue >= 0),
    source         VARCHAR NOT NULL,
    CHECK (tickets_sold <= capacity)
);
INSERT INTO concert_results SELECT * FROM concert_results_kept;
DROP TABLE concert_results_kept;

CREATE TEMP TABLE concert_performance_kept AS SELECT * FROM concert_performance;
DROP TABLE concert_performance;
CREATE TABLE concert_performance (
    concert_id        VARCHAR PRIMARY KEY,
    artist_id         VARCHAR NOT NULL REFERENCES artists (artist_id),
    venue_id          VARCHAR NOT NULL REFERENCES venues (venue_id),
    event_date        DATE NOT NULL,
    status            VARCHAR NOT NULL,
    capacity          INTEGER CHECK (capacity > 0),        -- NULL when no source knows it
    tickets_sold      INTEGER NOT NULL CHECK (tickets_sold >= 0),
    gross_revenue     DECIMAL(14, 2) NOT NULL,
    avg_ticket_price  DECIMAL(10, 2),
    sell_through      DOUBLE CHECK (sell_through >= 0),    -- NULL when capacity is unknown
    results_source    VARCHAR NOT NULL CHECK (results_source IN ('transactions', 'box_score', 'none')),
    refreshed_at      TIMESTAMP NOT NULL
);
INSERT INTO concert_performance SELECT * FROM concert_performance_kept;
DROP TABLE concert_performance_kept;
