-- The warehouse contract (DESIGN.md §4): entity tables, box-score results and concert_performance.
-- Keys and CHECKs here mirror core/schemas.py; ids are strings because sources bring their own.
-- Facts that APIs often lack (genre, popularity, followers, coordinates, capacity, venue type)
-- may be NULL.

CREATE TABLE artists (
    artist_id    VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL CHECK (length(trim(name)) > 0),
    genre        VARCHAR CHECK (genre = lower(genre)),
    country      VARCHAR CHECK (country IS NULL OR regexp_full_match(country, '[A-Z]{2}')),
    popularity   SMALLINT CHECK (popularity BETWEEN 0 AND 100),
    followers    BIGINT CHECK (followers >= 0),
    formed_year  SMALLINT CHECK (formed_year IS NULL OR formed_year >= 1900),
    spotify_id   VARCHAR
);

CREATE TABLE venues (
    venue_id         VARCHAR PRIMARY KEY,
    name             VARCHAR NOT NULL CHECK (length(trim(name)) > 0),
    city             VARCHAR NOT NULL,
    state            VARCHAR,
    country          VARCHAR NOT NULL CHECK (regexp_full_match(country, '[A-Z]{2}')),
    latitude         DOUBLE CHECK (latitude BETWEEN -90 AND 90),
    longitude        DOUBLE CHECK (longitude BETWEEN -180 AND 180),
    capacity         INTEGER CHECK (capacity > 0 AND capacity <= 250000),
    venue_type       VARCHAR
                     CHECK (venue_type IN ('arena', 'stadium', 'theater', 'club', 'amphitheater', 'outdoor')),
    ticketmaster_id  VARCHAR
);

CREATE TABLE fans (
    fan_id          VARCHAR PRIMARY KEY,
    city            VARCHAR,
    state           VARCHAR,
    country         VARCHAR CHECK (country IS NULL OR regexp_full_match(country, '[A-Z]{2}')),
    age_band        VARCHAR CHECK (age_band IN ('18-24', '25-34', '35-44', '45-54', '55-64', '65+')),
    signup_date     DATE,
    favorite_genre  VARCHAR CHECK (favorite_genre = lower(favorite_genre))
);

CREATE TABLE concerts (
    concert_id    VARCHAR PRIMARY KEY,
    artist_id     VARCHAR NOT NULL REFERENCES artists (artist_id),
    venue_id      VARCHAR NOT NULL REFERENCES venues (venue_id),
    event_date    DATE NOT NULL CHECK (event_date >= DATE '1950-01-01'),
    tour_name     VARCHAR,
    status        VARCHAR NOT NULL CHECK (status IN ('scheduled', 'completed', 'cancelled')),
    on_sale_date  DATE CHECK (on_sale_date IS NULL OR on_sale_date <= event_date),
    price_min     DECIMAL(10, 2) CHECK (price_min >= 0),
    price_max     DECIMAL(10, 2) CHECK (price_max >= price_min)
);

-- The fact table: its key and references are kept by the loaders (merge by sale_id, orphans
-- quarantined) and verified by `encore check`, not enforced by indexes. At millions of rows
-- DuckDB's ART indexes made every load 2-3x slower and held the keys in memory; fact tables
-- in Redshift are unenforced too. (Logical keys: pipelines/integrity.py LOGICAL_KEYS.)
CREATE TABLE ticket_sales (
    sale_id     VARCHAR NOT NULL,
    concert_id  VARCHAR NOT NULL,
    fan_id      VARCHAR,
    sold_at     TIMESTAMP NOT NULL,
    channel     VARCHAR NOT NULL CHECK (channel IN ('web', 'mobile', 'box_office', 'partner')),
    price_tier  VARCHAR NOT NULL CHECK (price_tier IN ('general', 'reserved', 'premium', 'vip')),
    quantity    INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    unit_price  DECIMAL(10, 2) NOT NULL CHECK (unit_price >= 0),
    amount      DECIMAL(12, 2) NOT NULL,
    CHECK (amount = quantity * unit_price)
);

-- Box-score results: a concert's reported outcome where no ticket transactions exist.
CREATE TABLE concert_results (
    concert_id     VARCHAR PRIMARY KEY REFERENCES concerts (concert_id),
    shows          INTEGER NOT NULL DEFAULT 1 CHECK (shows >= 1),
    tickets_sold   INTEGER NOT NULL CHECK (tickets_sold >= 0),
    capacity       INTEGER NOT NULL CHECK (capacity > 0),
    gross_revenue  DECIMAL(14, 2) NOT NULL CHECK (gross_revenue >= 0),
    source         VARCHAR NOT NULL,
    CHECK (tickets_sold <= capacity)
);

-- One row per concert, refreshed after every load (pipelines/marts.py).
CREATE TABLE concert_performance (
    concert_id        VARCHAR PRIMARY KEY REFERENCES concerts (concert_id),
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

-- No secondary indexes: DuckDB scans with zone maps, and an ART index on a FK-referenced table
-- turns UPDATEs of other columns into delete+insert, which the foreign keys then refuse.

-- How the warehouse was built (generator runs record their scale, seed and as-of date).
CREATE TABLE warehouse_builds (
    built_at    TIMESTAMP NOT NULL DEFAULT now(),
    source      VARCHAR NOT NULL,
    parameters  JSON NOT NULL,
    total_rows  BIGINT NOT NULL
);
