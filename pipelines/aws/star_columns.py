"""DuckDB's `* EXCLUDE (...)` as explicit column lists: Glue 5.0 runs Spark 3.5, whose SQL has no
`* EXCEPT (...)` (Spark 4 added it; sqlglot writes EXCLUDE as EXCEPT for Spark).

The rules' SQL (`pipelines.load`, `pipelines.aws.spark.resolution_sql`) drops and re-adds columns
with `* EXCLUDE`. Given the columns of the views the SQL reads, sqlglot's column qualifier expands
every star in a copy of the tree; each star with an EXCLUDE in the original then takes the list
of columns its copy expanded to, in the same order (DuckDB keeps the source's order). Everything
else is left as written.

`spark4_only` names what Spark 3.5's parser would refuse; `to_spark` fails on it, and the tests
check every entity's SQL with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlglot import exp
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.schema import MappingSchema

from core.errors import ConfigError


def _star(node: exp.Expression) -> exp.Star | None:
    """The star of a projection (`*` or `t.*`), or None."""
    if isinstance(node, exp.Star):
        return node
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
        return node.this
    return None


def _modified(node: exp.Expression) -> bool:
    star = _star(node)
    return star is not None and any(star.args.get(k) for k in ("except_", "replace", "rename"))


def read_tables(tree: exp.Expression) -> set[str]:
    """The tables and views `tree` reads (its CTEs are not among them)."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name not in ctes}


def expand_star_excludes(
    tree: exp.Expression, columns: Mapping[str, Sequence[str]] | None
) -> exp.Expression:
    """`tree` (DuckDB) with each `* EXCLUDE (...)` replaced by the columns it stands for.

    `columns`: the columns of every table `tree` reads (`read_tables`), in order.
    """
    selects = list(tree.find_all(exp.Select, bfs=False))
    if not any(_modified(e) for s in selects for e in s.expressions):
        return tree
    missing = read_tables(tree) - set(columns or {})
    if columns is None or missing:
        raise ConfigError(
            "`* EXCLUDE` needs the columns of the tables the SQL reads to become Spark 3.5 SQL; "
            f"none given for {', '.join(sorted(missing))}"
        )
    schema = MappingSchema(
        {t: dict.fromkeys(cols, "VARCHAR") for t, cols in columns.items()},
        dialect="duckdb", normalize=False,
    )  # fmt: skip
    expanded = qualify_columns(tree.copy(), schema, expand_alias_refs=False, dialect="duckdb")
    copies = list(expanded.find_all(exp.Select, bfs=False))
    if len(copies) != len(selects):  # the walk pairs each SELECT with its copy
        raise ConfigError("could not pair the SQL's SELECTs with their expanded copies")
    for select, copy in zip(selects, copies, strict=True):
        for i, projection in enumerate(list(select.expressions)):
            if _modified(projection):
                _replace_star(select, copy, i)
    return tree


def _replace_star(select: exp.Select, copy: exp.Select, index: int) -> None:
    """Put the copy's expansion of the star at `index` in its place (one star per SELECT)."""
    projections = select.expressions
    if sum(_star(p) is not None for p in projections) != 1:
        raise ConfigError(f"more than one star in a SELECT: {select.sql('duckdb')[:200]}")
    star = projections[index]
    table = star.table if isinstance(star, exp.Column) else ""
    if any((_star(star) or exp.Star()).args.get(k) for k in ("replace", "rename")):
        raise ConfigError("`* REPLACE` / `* RENAME` have no Spark 3.5 form; list the columns")
    count = len(copy.expressions) - (len(projections) - 1)
    names = [p.alias_or_name for p in copy.expressions[index : index + count]]
    listed = [exp.column(exp.to_identifier(n, quoted=True), table=table or None) for n in names]
    select.set("expressions", [*projections[:index], *listed, *projections[index + 1 :]])


def spark4_only(sql: str) -> list[str]:
    """What Spark 3.5 refuses in this Spark SQL: `* EXCEPT/REPLACE` lists (its parser has none)."""
    import sqlglot

    found = []
    for statement in sqlglot.parse(sql, read="spark"):
        for node in statement.find_all(exp.Star) if statement else ():
            for kind in ("except_", "replace", "rename"):
                if node.args.get(kind):
                    where = node.parent_select.sql("spark")[:120] if node.parent_select else ""
                    found.append(f"* {kind.rstrip('_').upper()} in {where}")
    return found
