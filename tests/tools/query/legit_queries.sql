-- Legitimate analyst queries: every one must pass the guard for role analyst (no false refusals).
-- One query per block; blocks are separated by a line holding only ";".
SELECT name, genre, popularity FROM artists ORDER BY popularity DESC LIMIT 10
;
SELECT genre, COUNT(*) AS artists FROM artists GROUP BY genre ORDER BY artists DESC
;
SELECT v.state, SUM(cp.tickets_sold) AS tickets FROM concert_performance cp JOIN venues v ON v.venue_id = cp.venue_id GROUP BY v.state HAVING SUM(cp.tickets_sold) > 1000 ORDER BY tickets DESC
;
SELECT a.name, COUNT(*) AS shows FROM concerts c JOIN artists a USING (artist_id) WHERE c.status = 'completed' GROUP BY a.name ORDER BY shows DESC LIMIT 20
;
WITH per_venue AS (SELECT venue_id, AVG(sell_through) AS st FROM concert_performance GROUP BY venue_id) SELECT v.name, p.st FROM per_venue p JOIN venues v ON v.venue_id = p.venue_id ORDER BY p.st DESC NULLS LAST LIMIT 10
;
SELECT concert_id, gross_revenue, RANK() OVER (PARTITION BY venue_id ORDER BY gross_revenue DESC) AS rnk FROM concert_performance
;
SELECT event_date, tickets_sold, SUM(tickets_sold) OVER (ORDER BY event_date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS rolling FROM concert_performance ORDER BY event_date LIMIT 50
;
SELECT EXTRACT(YEAR FROM event_date) AS yr, SUM(gross_revenue) AS gross FROM concert_performance GROUP BY 1 ORDER BY 1
;
SELECT DATE_TRUNC('month', event_date) AS month, COUNT(*) FROM concerts GROUP BY 1 ORDER BY 1
;
SELECT date_part('dow', event_date) AS dow, AVG(tickets_sold) FROM concert_performance GROUP BY 1
;
SELECT strftime(event_date, '%Y-%m') AS ym, COUNT(*) AS n FROM concerts GROUP BY ym ORDER BY ym
;
SELECT CASE WHEN capacity >= 20000 THEN 'large' WHEN capacity >= 5000 THEN 'medium' ELSE 'small' END AS band, COUNT(*) FROM venues GROUP BY 1
;
SELECT name FROM artists WHERE artist_id IN (SELECT artist_id FROM concerts WHERE status = 'scheduled')
;
SELECT v.name FROM venues v WHERE EXISTS (SELECT 1 FROM concerts c WHERE c.venue_id = v.venue_id AND c.event_date > DATE '2026-01-01')
;
SELECT a.name, (SELECT COUNT(*) FROM concerts c WHERE c.artist_id = a.artist_id) AS n FROM artists a ORDER BY n DESC LIMIT 5
;
SELECT channel, price_tier, SUM(amount) AS revenue, SUM(quantity) AS tickets FROM ticket_sales GROUP BY channel, price_tier ORDER BY revenue DESC
;
SELECT f.age_band, COUNT(DISTINCT t.fan_id) AS buyers FROM ticket_sales t JOIN fans f ON f.fan_id = t.fan_id GROUP BY f.age_band ORDER BY f.age_band
;
SELECT favorite_genre, country, COUNT(*) FROM fans GROUP BY ALL ORDER BY 3 DESC
;
SELECT venue_type, AVG(capacity) AS avg_cap, MIN(capacity), MAX(capacity) FROM venues GROUP BY venue_type
;
SELECT city FROM venues UNION SELECT city FROM venues WHERE state = 'CA' ORDER BY city
;
SELECT artist_id FROM concerts WHERE status = 'completed' INTERSECT SELECT artist_id FROM concerts WHERE status = 'scheduled'
;
SELECT artist_id FROM artists EXCEPT SELECT artist_id FROM concerts
;
SELECT a.genre, v.venue_type, AVG(cp.sell_through) AS st FROM concert_performance cp JOIN artists a ON a.artist_id = cp.artist_id JOIN venues v ON v.venue_id = cp.venue_id GROUP BY a.genre, v.venue_type ORDER BY st DESC NULLS LAST
;
SELECT c.concert_id, c.price_min, c.price_max, c.price_max - c.price_min AS spread FROM concerts c WHERE c.price_min IS NOT NULL ORDER BY spread DESC LIMIT 10
;
SELECT cr.source, SUM(cr.tickets_sold), SUM(cr.capacity) FROM concert_results cr GROUP BY cr.source
;
SELECT COALESCE(state, 'unknown') AS state, COUNT(*) FROM venues GROUP BY 1
;
SELECT name, LOWER(name), UPPER(name), LENGTH(name), SUBSTRING(name, 1, 3) FROM artists LIMIT 5
;
SELECT name FROM artists WHERE name ILIKE '%the%' OR name LIKE 'A%'
;
SELECT ROUND(AVG(unit_price), 2) AS avg_price, MEDIAN(unit_price), quantile_cont(unit_price, 0.9) FROM ticket_sales
;
SELECT DATE_DIFF('day', c.on_sale_date, c.event_date) AS lead_days, COUNT(*) FROM concerts c WHERE c.on_sale_date IS NOT NULL GROUP BY 1 ORDER BY 1 LIMIT 30
;
SELECT event_date, LAG(tickets_sold) OVER (ORDER BY event_date) AS prev, LEAD(tickets_sold) OVER (ORDER BY event_date) AS nxt FROM concert_performance LIMIT 10
;
SELECT venue_id, ROW_NUMBER() OVER (ORDER BY capacity DESC) AS rn, NTILE(4) OVER (ORDER BY capacity) AS quartile FROM venues
;
SELECT * FROM (SELECT genre, COUNT(*) AS n FROM artists GROUP BY genre) t WHERE t.n > 5
;
WITH monthly AS (SELECT DATE_TRUNC('month', event_date) AS m, SUM(gross_revenue) AS g FROM concert_performance GROUP BY 1), ranked AS (SELECT m, g, RANK() OVER (ORDER BY g DESC) AS r FROM monthly) SELECT * FROM ranked WHERE r <= 3
;
SELECT a.name, SUM(cp.gross_revenue) FILTER (WHERE cp.status = 'completed') AS done FROM concert_performance cp JOIN artists a ON a.artist_id = cp.artist_id GROUP BY a.name ORDER BY done DESC NULLS LAST LIMIT 10
;
SELECT CAST(event_date AS VARCHAR) AS d, tickets_sold::DOUBLE / NULLIF(capacity, 0) AS ratio FROM concert_performance LIMIT 10
;
SELECT v.name, COUNT(c.concert_id) AS n FROM venues v LEFT JOIN concerts c ON c.venue_id = v.venue_id GROUP BY v.name ORDER BY n LIMIT 10
;
SELECT a.name AS artist, v.name AS venue, cp.event_date FROM concert_performance cp JOIN artists a ON a.artist_id = cp.artist_id JOIN venues v ON v.venue_id = cp.venue_id WHERE cp.event_date BETWEEN DATE '2025-01-01' AND DATE '2025-06-30' ORDER BY cp.event_date LIMIT 25
;
SELECT t.channel, COUNT(*) AS n, SUM(t.amount) / SUM(t.quantity) AS avg_price FROM ticket_sales t WHERE t.sold_at >= TIMESTAMP '2025-01-01 00:00:00' GROUP BY t.channel
;
SELECT a.country, COUNT(DISTINCT a.artist_id) AS artists, AVG(a.followers) AS followers FROM artists a GROUP BY a.country HAVING COUNT(*) >= 2 ORDER BY artists DESC
;
SELECT c.status, COUNT(*) AS n, COUNT(*) * 1.0 / SUM(COUNT(*)) OVER () AS share FROM concerts c GROUP BY c.status
;
SELECT name, GREATEST(popularity, 50), LEAST(popularity, 50), ABS(popularity - 50) FROM artists LIMIT 5
;
SELECT EXTRACT(QUARTER FROM event_date) AS q, YEAR(event_date) AS y, MONTH(event_date) AS m, COUNT(*) FROM concerts GROUP BY ALL ORDER BY y, q, m
;
SELECT a.name, STRING_AGG(DISTINCT v.city, ', ') AS cities FROM concerts c JOIN artists a ON a.artist_id = c.artist_id JOIN venues v ON v.venue_id = c.venue_id GROUP BY a.name LIMIT 5
;
SELECT fan_id, COUNT(*) AS purchases FROM ticket_sales WHERE fan_id IS NOT NULL GROUP BY fan_id ORDER BY purchases DESC LIMIT 10
;
SELECT CURRENT_DATE - event_date AS days_ago FROM concerts WHERE event_date < CURRENT_DATE ORDER BY event_date DESC LIMIT 3
;
SELECT v.name, v.latitude, v.longitude FROM venues v WHERE v.latitude IS NOT NULL AND v.country = 'US' LIMIT 20
;
SELECT cp.venue_id, COUNT(*) FILTER (WHERE cp.sell_through >= 1) AS sellouts FROM concert_performance cp GROUP BY cp.venue_id ORDER BY sellouts DESC LIMIT 10
