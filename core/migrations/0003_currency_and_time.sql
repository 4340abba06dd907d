-- Currencies and time zones (requirement 1.3). Prices stay in the currency the source gave, named
-- beside them; instants are stored in UTC, and a venue keeps its IANA time zone so local times can
-- be recovered. NULL means the source did not say (the generator's prices are US dollars).

-- ISO 4217 code of price_min and price_max ("USD", "MXN")
ALTER TABLE concerts ADD COLUMN currency VARCHAR;
-- when the show starts, in UTC; NULL when only the (local) event_date is known
ALTER TABLE concerts ADD COLUMN starts_at TIMESTAMP;
-- IANA time zone of the venue ("America/Mexico_City")
ALTER TABLE venues ADD COLUMN timezone VARCHAR;
