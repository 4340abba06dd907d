"""Record linkage (requirement 1.4): blocking, pairwise match weights and constrained clustering.

Every record is a node: the incoming records (one per source key) and the canonical rows already
in the warehouse. Candidate pairs are the nodes sharing a blocking key, incoming against everything
but never existing against existing, since those are distinct entities by construction. Each pair
gets a Fellegi-Sunter match weight: the log2 Bayes factor summed over independent comparisons
(name, place, dates, ...), so evidence for and against adds up and a missing value adds nothing.
Pairs whose posterior clears the threshold are merged best first with union-find; a merge that
would join two different canonical entities is refused, which stops single-linkage chains from
collapsing the warehouse. A cluster holding a canonical entity takes its id; any other cluster
is founded by its most complete record, then its smallest key.

The weights run in DuckDB (vectorised, parallel); only the accepted pairs reach Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import pyarrow as pa


@dataclass(frozen=True)
class MatchRules:
    """How one entity type is compared: features, blocking keys, a weight and a threshold."""

    entity_type: str
    features: tuple[str, ...]  # `expr AS name` over the entity's columns
    block_keys: str  # a VARCHAR[] over the features; NULL elements are ignored
    weight: str  # the pair's match weight in bits, over features `a.name` and `b.name`
    prior_bits: float  # log2 prior odds that two records sharing a block are one entity
    threshold: float = 0.9  # posterior match probability needed to link
    max_block: int | None = 400  # blocks larger than this say little and cost much: skipped

    @property
    def threshold_bits(self) -> float:
        """The match weight at which the posterior probability reaches the threshold."""
        return math.log2(self.threshold / (1 - self.threshold)) - self.prior_bits


def probability(rules: MatchRules, weight: float) -> float:
    """The posterior match probability of a pair with this match weight."""
    return 1.0 / (1.0 + float(2.0 ** -(weight + rules.prior_bits)))


def candidate_pairs_sql(rules: MatchRules, nodes: str) -> str:
    """SQL for the scored candidate pairs `(l, r, weight)` of `nodes` (one row per pair)."""
    cap = f"AND count(*) <= {rules.max_block}" if rules.max_block else ""
    return f"""
        WITH keys AS (
            SELECT DISTINCT _node, _existing, k
            FROM (SELECT _node, _existing, unnest({rules.block_keys}) AS k FROM {nodes})
            WHERE k IS NOT NULL
        ),
        usable AS (
            SELECT k FROM keys GROUP BY k HAVING count(*) > 1 {cap}
        ),
        blocked AS (SELECT * FROM keys SEMI JOIN usable USING (k)),
        pairs AS (
            SELECT DISTINCT least(a._node, b._node) AS l, greatest(a._node, b._node) AS r
            FROM blocked a JOIN blocked b USING (k)
            WHERE NOT a._existing AND a._node <> b._node AND (b._existing OR a._node < b._node)
        )
        SELECT p.l, p.r, ({rules.weight})::DOUBLE AS weight
        FROM pairs p
        JOIN {nodes} a ON a._node = p.l
        JOIN {nodes} b ON b._node = p.r
    """


def link(con: duckdb.DuckDBPyConnection, rules: MatchRules, records: str, out: str) -> str:
    """Cluster `records`; write `out(_key, _canonical_id, _anchored, _score)` and return `out`.

    `records` holds the entity's fields plus `_key` (the source key, or the id of a canonical
    row), `_anchor` (the canonical id a record is already bound to, else NULL), `_existing`
    (a canonical row) and `_filled` (how complete the record is). Only incoming records are
    written: `_anchored` says whether their cluster holds a canonical entity, and `_score` is
    the match probability of the best accepted pair they are in (NULL: none).
    """
    nodes = f"{out}_nodes"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {nodes} AS
        SELECT row_number() OVER (ORDER BY _existing DESC, _key) - 1 AS _node,
               _key, _anchor, _existing, _filled, {", ".join(rules.features)}
        FROM {records}
        """
    )
    try:
        keys, anchors, existing, filled = _fetch_nodes(con, nodes)
        # materialised first: filtering the query inline makes DuckDB compute the weight twice
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {out}_pairs AS {candidate_pairs_sql(rules, nodes)}"
        )
        scored = con.execute(
            f"SELECT l, r, weight FROM {out}_pairs WHERE weight >= {rules.threshold_bits} "
            "ORDER BY weight DESC, l, r"
        ).fetchall()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {nodes}")
        con.execute(f"DROP TABLE IF EXISTS {out}_pairs")
    parent, anchors, best = _cluster(scored, anchors)
    incoming = [n for n in range(len(keys)) if not existing[n]]
    founders: dict[int, int] = {}
    # most complete first, then the smallest key: the same founder whatever the input order
    for node in sorted(incoming, key=lambda n: (-filled[n], keys[n])):
        founders.setdefault(_find(parent, node), node)
    roots = [_find(parent, n) for n in incoming]
    table = pa.table(
        {
            "_key": [keys[n] for n in incoming],
            "_canonical_id": [anchors[r] or keys[founders[r]] for r in roots],
            "_anchored": [anchors[r] is not None for r in roots],
            "_score": [
                probability(rules, best[n]) if best[n] > -math.inf else None for n in incoming
            ],
        },
        schema=pa.schema(
            [
                ("_key", pa.string()),
                ("_canonical_id", pa.string()),
                ("_anchored", pa.bool_()),
                ("_score", pa.float64()),
            ]
        ),
    )
    con.register(f"{out}_arrow", table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT * FROM {out}_arrow")
    finally:
        con.unregister(f"{out}_arrow")
    return out


def _cluster(
    scored: list[tuple[int, int, float]], anchors: list[str | None]
) -> tuple[list[int], list[str | None], list[float]]:
    """Union-find over pairs, best first: (parents, each root's anchor, each node's best weight).

    A merge of two clusters bound to different canonical entities is refused.
    """
    parent = list(range(len(anchors)))
    anchors = list(anchors)
    best = [-math.inf] * len(anchors)
    for left, right, weight in scored:
        a, b = _find(parent, left), _find(parent, right)
        if a != b:
            if anchors[a] and anchors[b] and anchors[a] != anchors[b]:
                continue
            parent[b] = a
            anchors[a] = anchors[a] or anchors[b]
        best[left] = max(best[left], weight)
        best[right] = max(best[right], weight)
    return parent, anchors, best


def _fetch_nodes(
    con: duckdb.DuckDBPyConnection, nodes: str
) -> tuple[list[str], list[str | None], list[bool], list[int]]:
    rows = con.execute(
        f"SELECT _key, _anchor, _existing, _filled FROM {nodes} ORDER BY _node"
    ).fetchall()
    return (
        [str(r[0]) for r in rows],
        [None if r[1] is None else str(r[1]) for r in rows],
        [bool(r[2]) for r in rows],
        [int(r[3]) for r in rows],
    )


def _find(parent: list[int], node: int) -> int:
    """The cluster root of `node`, halving the path on the way (near-constant amortised)."""
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node
