"""The query guard: SQL from callers becomes one checked, rewritten, read-only query (DESIGN §6).

The steps, in order (`check`): parse in the DuckDB dialect (anything sqlglot cannot parse, or
parses only as an opaque `Command`, is refused: fail closed) → exactly one statement → a read-only
SELECT / WITH / UNION → tables on the role's allow-list (no table functions, no files, no system
catalogs) → functions on the allow-list (aggregate-only roles: no aggregate that returns the rows'
own values, such as list()) → columns resolved and on the allow-list → aggregates only for
aggregate-only roles → minimum group sizes (a SELECT reading a table with `min_group_size` must
aggregate, and gets HAVING COUNT(DISTINCT row key) >= n) → masked columns and row filters applied
by rewriting table references into views → a row limit. The re-rendered SQL then runs on the
locked-down read-only connection (`core.warehouse.reading`) under a timer that interrupts it
(`run_sql`).
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from core.errors import QueryRefusedError
from tools.query.policy import Policy, Role

DIALECT = "duckdb"

Schema = dict[str, Any]
"""schema name -> table -> column -> type; the warehouse tables live in `main`."""

_READ_ROOTS = (exp.Select, exp.SetOperation)
_WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Copy,
    exp.Pragma, exp.Set, exp.Attach, exp.Detach, exp.Use, exp.Command, exp.Transaction,
    exp.Commit, exp.Rollback, exp.Into, exp.Install, exp.Describe, exp.Show, exp.Summarize,
    exp.TruncateTable, exp.LoadData,
)  # fmt: skip
_QUALIFY_ALIAS = re.compile(r"^_col_\d+$")
ROW_KEY = "encore_row_key"
"""The hidden column a grant's view adds for counting group sizes (no caller can name it)."""
_SPELLINGS = {
    "ARRAY_AGG": "list()/array_agg()",
    "GROUP_CONCAT": "string_agg()/group_concat()/listagg()",
    "ARG_MAX": "arg_max()/max_by()",
    "ARG_MIN": "arg_min()/min_by()",
}


@dataclass
class Checked:
    """A query the guard accepted: the SQL to run and what it touches."""

    sql: str
    tables: list[str]
    functions: list[str]
    fetch: int  # rows to fetch: one more than the cap when the guard set the limit
    max_rows: int
    expression: exp.Expr = field(repr=False)


def refuse(reason: str, **detail: object) -> QueryRefusedError:
    return QueryRefusedError(reason, **detail)


# ---- steps -------------------------------------------------------------------------------


# sqlglot warns on stderr when it falls back to a raw Command ("DROP ..."); the guard refuses those
# with a reason of its own, so the warning is noise in the CLI and in MCP servers' logs.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _parse(sql: str) -> exp.Expr:
    if not sql or not sql.strip():
        raise refuse("the query is empty; send one SELECT statement")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise refuse(f"could not parse the SQL (DuckDB dialect): {first}") from exc
    if not statements:
        raise refuse("the query is empty; send one SELECT statement")
    if len(statements) > 1:
        raise refuse(f"exactly one statement is allowed; got {len(statements)}")
    return statements[0]


def _statement_kind(sql: str, node: exp.Expr) -> str:
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except SqlglotError:
        tokens = []
    words = [t.text.upper() for t in tokens if t.text not in ("(", ";")]
    if isinstance(node, exp.Create | exp.Drop | exp.Alter) and len(words) > 1:
        kind = node.args.get("kind")
        return f"{words[0]} {kind}" if kind else words[0]
    return words[0] if words else type(node).__name__.upper()


def _read_only(sql: str, tree: exp.Expr) -> exp.Expr:
    while isinstance(tree, exp.Subquery) and not tree.args.get("alias"):
        tree = tree.this
    if not isinstance(tree, _READ_ROOTS):
        raise refuse(f"only SELECT is allowed; got {_statement_kind(sql, tree)}")
    for node in tree.walk():
        if isinstance(node, _WRITE_NODES):
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else type(node).__name__.upper()
            raise refuse(f"only read-only SELECT is allowed; the query contains {what}")
        if isinstance(node, exp.Lock):
            raise refuse("row locks (FOR UPDATE/SHARE) are not allowed in read-only queries")
    return tree


def _cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _table_key(table: exp.Table) -> str:
    return ".".join(p for p in (table.catalog, table.db, table.name) if p).lower()


def _check_tables(tree: exp.Expr, role: Role, schema: Schema) -> list[str]:
    ctes = _cte_names(tree)
    visible = _visible_tables(role, schema)
    # the hint names what can be queried; an engine with nothing is an empty lake
    available = (
        f"query these tables: {', '.join(visible)}"
        if visible
        else "there are no tables here yet (the lake fills as files are ingested)"
    )
    used: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            name = table.this.sql(DIALECT).split("(")[0]
            raise refuse(
                f"table functions such as {name}() are not allowed (no files, settings or "
                f"nested queries); {available}"
            )
        key = _table_key(table)
        if not table.db and key in ctes:
            continue
        if key in role.system_catalogs:
            used.add(key)
            continue
        if table.catalog or (table.db and table.db.lower() != "main"):
            raise refuse(f"table {key} is not available to role {role.name}; {available}")
        name = table.name.lower()
        if name not in schema.get("main", {}) or role.grant(name) is None:
            raise refuse(
                f"table {name} is not available to role {role.name}; {available}",
                table=name,
            )
        used.add(name)
    return sorted(used)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    return node.sql_name().upper()


def _check_functions(tree: exp.Expr, policy: Policy) -> list[str]:
    used = {_function_name(f) for f in tree.find_all(exp.Func)}
    refused = sorted(used - policy.functions)
    if refused:
        names = ", ".join(f"{n.lower()}()" for n in refused)
        raise refuse(
            f"function{'s' if len(refused) > 1 else ''} {names} "
            f"{'are' if len(refused) > 1 else 'is'} not allowed in warehouse queries",
            functions=refused,
        )
    return sorted(used)


def _check_row_level_aggregates(functions: list[str], role: Role, policy: Policy) -> None:
    refused = [f for f in functions if f in policy.row_level_aggregates]
    if refused:
        names = ", ".join(_SPELLINGS.get(f, f"{f.lower()}()") for f in refused)
        raise refuse(
            f"role {role.name} sees aggregates only; {names} "
            f"return{'s' if len(refused) == 1 else ''} the grouped rows' own values, not a "
            "statistic of them: use COUNT, SUM, AVG, MIN, MAX or MEDIAN",
            functions=refused,
        )


def _qualify(tree: exp.Expr, schema: Schema) -> exp.Expr:
    return qualify(
        tree, schema=schema, db="main", dialect=DIALECT, identify=False,
        validate_qualify_columns=True,
    )  # fmt: skip


def _role_schema(schema: Schema, role: Role) -> Schema:
    """The schema as the role sees it: `SELECT *` expands to the columns it may read."""
    main = {}
    for table, columns in schema["main"].items():
        grant = role.grant(table)
        main[table] = (
            {c: t for c, t in columns.items() if grant.allows(c)}
            if grant is not None and grant.columns is not None
            else columns
        )
    return {**schema, "main": main}


def _qualified(sql: str, tree: exp.Expr, schema: Schema, role: Role) -> exp.Expr:
    try:
        return _qualify(tree, _role_schema(schema, role))
    except SqlglotError as exc:
        # a column the role may not read does not resolve in its schema: say so plainly
        with contextlib.suppress(SqlglotError):
            _check_columns(_qualify(_read_only(sql, _parse(sql)), schema), role)
        raise refuse(f"the query does not match the warehouse schema: {exc}") from exc


def _projection_aliases(scope: Scope) -> set[str]:
    selects = _top_selects(scope.expression)
    return {e.alias_or_name.lower() for e in selects[0].expressions} if selects else set()


def _check_columns(qualified: exp.Expr, role: Role) -> None:
    for whole_row in qualified.find_all(exp.TableColumn):
        raise refuse(f"{whole_row.name} names a table, not a column; select the columns you need")
    for scope in traverse_scope(qualified):
        aliases = _projection_aliases(scope)
        sources = {k.lower(): v for k, v in scope.sources.items()}
        _check_row_references(scope, sources, aliases)
        for column in scope.columns:
            name = column.name.lower()
            if not column.table:
                # an output alias (ORDER BY total) is fine; a bare table alias would read the
                # whole row as a struct, personal columns included
                if name in aliases and name not in sources:
                    continue
                raise refuse(f"column {name} could not be resolved; qualify it with its table")
            source = sources.get(column.table.lower())
            if isinstance(source, exp.Table):
                grant = role.grant(source.name.lower())
                if grant is not None and not grant.allows(name):
                    raise refuse(
                        f"column {source.name}.{name} is not available to role {role.name}"
                        + (f"; readable columns: {', '.join(sorted(grant.columns))}"
                           if grant.columns is not None else ""),
                        table=source.name, column=name,
                    )  # fmt: skip


def _check_row_references(scope: Scope, sources: dict[str, Any], aliases: set[str]) -> None:
    """Refuse a bare table alias used as a value: DuckDB reads it as the whole row (a struct)."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    in_projections = {id(c) for p in select.expressions for c in p.find_all(exp.Column)}
    for column in select.find_all(exp.Column):
        name = column.name.lower()
        if column.table or name not in sources or column.parent_select is not select:
            continue
        if id(column) in in_projections or name not in aliases:
            raise refuse(f"{column.name} names a table, not a column; select the columns you need")


def _top_selects(node: exp.Expr) -> list[exp.Select]:
    if isinstance(node, exp.SetOperation):
        return _top_selects(node.left) + _top_selects(node.right)
    if isinstance(node, exp.Subquery):
        return _top_selects(node.this)
    return [node] if isinstance(node, exp.Select) else []


def _aggregates(node: exp.Expr) -> bool:
    """True when the expression aggregates (outside window functions and nested queries)."""
    for agg in node.find_all(exp.AggFunc):
        current: exp.Expr | None = agg
        while current is not node:
            current = current.parent if current is not None else None
            if current is None or isinstance(current, exp.Window | exp.Select):
                break
        else:
            return True
    return False


def _check_aggregate_only(qualified: exp.Expr, role: Role) -> None:
    for select in _top_selects(qualified):
        group = select.args.get("group")
        grouped_all = bool(group and group.args.get("all"))
        grouped = {g.sql(DIALECT) for g in group.expressions} if group else set()
        any_agg = any(_aggregates(e) for e in select.expressions)
        if not group and not any_agg:
            raise refuse(
                f"role {role.name} sees aggregates only; add GROUP BY with COUNT/SUM/AVG "
                "instead of reading rows"
            )
        for projection in select.expressions:
            inner = projection.unalias()
            if _aggregates(inner) or isinstance(inner, exp.Literal) or grouped_all:
                continue
            if inner.sql(DIALECT) not in grouped:
                raise refuse(
                    f"role {role.name} sees aggregates only; {inner.sql(DIALECT)} is neither "
                    "aggregated nor grouped"
                )


def _scope_aggregates(select: exp.Select) -> bool:
    return bool(select.args.get("group")) or any(_aggregates(e) for e in select.expressions)


def _enforce_group_sizes(qualified: exp.Expr, role: Role) -> None:
    """Every SELECT reading a table with a minimum group size aggregates it into big groups.

    The count is of distinct row keys of each such table the SELECT reads directly, so a join
    that repeats rows (a CROSS JOIN, a self-join) cannot make a single row's group look large.
    """
    if role.tables is None or all(g.min_group_size is None for g in role.tables.values()):
        return
    pending: list[tuple[exp.Select, list[tuple[exp.Table, int]]]] = []
    checked: set[int] = set()
    for scope in traverse_scope(qualified):
        reads = []
        for source in scope.sources.values():
            if not isinstance(source, exp.Table):
                continue
            grant = role.grant(source.name.lower())
            if grant is not None and grant.min_group_size is not None:
                reads.append((source, grant.min_group_size))
        if not reads:
            continue
        select = scope.expression
        names = ", ".join(sorted({t.name.lower() for t, _ in reads}))
        if not isinstance(select, exp.Select) or not _scope_aggregates(select):
            least = max(k for _, k in reads)
            raise refuse(
                f"role {role.name} may read {names} only in a SELECT that aggregates it "
                f"(GROUP BY with COUNT/SUM/AVG, groups of at least {least} rows): a subquery, "
                "CTE, EXISTS or window that passes its rows on is not allowed",
                tables=names,
            )
        pending.append((select, reads))
        checked.update(id(t) for t, _ in reads)
    for table in qualified.find_all(exp.Table):
        grant = role.grant(table.name.lower()) if not table.db or table.db == "main" else None
        if grant is not None and grant.min_group_size is not None and id(table) not in checked:
            raise refuse(f"role {role.name} may not read {table.name} this way; aggregate it in "
                         "a plain SELECT ... FROM ... GROUP BY")  # fmt: skip
    for select, reads in pending:
        conditions: list[exp.Expr] = [
            exp.GTE(
                this=exp.Count(this=exp.Distinct(expressions=[
                    exp.column(exp.to_identifier(ROW_KEY, quoted=True),
                               table=exp.to_identifier(t.alias_or_name))
                ])),
                expression=exp.Literal.number(k),
            )
            for t, k in reads
        ]  # fmt: skip
        having = select.args.get("having")
        if having is not None:
            conditions.insert(0, exp.paren(having.this.copy(), copy=False))
        select.set("having", exp.Having(this=exp.and_(*conditions)))


def withheld_note(role: Role, checked_sql: str) -> str:
    """Which small groups the checked SQL leaves out, for the caller ('' when none)."""
    if f'"{ROW_KEY}"' not in checked_sql or role.tables is None:
        return ""
    sizes = {
        table: grant.min_group_size
        for table, grant in sorted(role.tables.items())
        if grant.min_group_size is not None and f"main.{table}" in checked_sql
    }
    parts = [f"{table} groups of fewer than {k} rows" for table, k in sizes.items()]
    return f"{' and '.join(parts)} are withheld for role {role.name}" if parts else ""


def _apply_views(qualified: exp.Expr, role: Role, schema: Schema) -> None:
    """Replace reads of restricted tables with views that mask columns and filter rows."""
    for table in list(qualified.find_all(exp.Table)):
        if not isinstance(table.this, exp.Identifier) or (table.db or "main").lower() != "main":
            continue
        grant = role.grant(table.name.lower())
        if grant is None or not grant.restricted:
            continue
        all_columns = list(schema["main"][table.name.lower()])
        columns = [c for c in all_columns if grant.allows(c)]
        projections = [
            exp.alias_(sqlglot.parse_one(grant.masked[c], read=DIALECT), c)
            if c in grant.masked
            else exp.column(c)
            for c in columns
        ]
        if grant.min_group_size is not None and grant.row_key is not None:
            projections.append(
                exp.alias_(exp.column(grant.row_key), exp.to_identifier(ROW_KEY, quoted=True))
            )
        view = exp.select(*projections).from_(exp.table_(table.name, db="main"))
        if grant.row_filter:
            view = view.where(sqlglot.parse_one(grant.row_filter, read=DIALECT))
        alias = table.alias or table.name
        table.replace(exp.Subquery(this=view, alias=exp.TableAlias(this=exp.to_identifier(alias))))


def _cap_limit(qualified: exp.Expr, role: Role, max_rows: int | None) -> int:
    cap = min(max_rows or role.max_rows, role.max_rows)
    node = qualified.args.get("limit")
    if node is None:
        qualified.set("limit", exp.Limit(expression=exp.Literal.number(cap + 1)))
        return cap + 1
    count = node.args.get("count") if isinstance(node, exp.Fetch) else node.expression
    if not isinstance(count, exp.Literal) or count.is_string or not str(count.this).isdigit():
        raise refuse("LIMIT must be a whole number")
    if int(count.this) > cap:
        qualified.set("limit", exp.Limit(expression=exp.Literal.number(cap + 1)))
        return cap + 1
    return int(count.this)


def _output_names(tree: exp.Expr) -> list[str] | None:
    """The caller's projections as written (None when a star will be expanded)."""
    selects = _top_selects(tree)
    if not selects or selects[0].is_star:
        return None
    return [e.sql(DIALECT)[:60] for e in selects[0].expressions]


def _restore_output_names(names: list[str] | None, qualified: exp.Expr) -> None:
    """Keep the caller's column names where qualification invented `_col_N` aliases."""
    after = _top_selects(qualified)
    if names is None or not after:
        return
    renamed: dict[str, str] = {}
    for orig, new in zip(names, after[0].expressions, strict=False):
        if isinstance(new, exp.Alias) and _QUALIFY_ALIAS.match(new.alias):
            renamed[new.alias] = orig
            new.set("alias", exp.to_identifier(renamed[new.alias], quoted=True))
    for column in qualified.find_all(exp.Column):
        if not column.table and column.name in renamed:
            column.set("this", exp.to_identifier(renamed[column.name], quoted=True))


def _visible_tables(role: Role, schema: Schema) -> list[str]:
    return sorted(t for t in schema.get("main", {}) if role.grant(t) is not None)


def check(
    sql: str,
    role: Role,
    policy: Policy,
    schema: Schema,
    *,
    max_rows: int | None = None,
    aggregated: bool = False,
) -> Checked:
    """Check and rewrite one query for a role, or raise QueryRefusedError with the reason.

    `aggregated` is for SQL compiled by the semantic layer, which aggregates by construction
    (its outer SELECT joins per-fact aggregates), so aggregate-only roles may run it; minimum
    group sizes and the refusal of row-level aggregates apply to it all the same.
    """
    tree = _read_only(sql, _parse(sql))
    tables = _check_tables(tree, role, schema)
    functions = _check_functions(tree, policy)
    if role.aggregate_only:
        _check_row_level_aggregates(functions, role, policy)
    names = _output_names(tree)
    qualified = _qualified(sql, tree, schema, role)  # in place: `tree` is not used afterwards
    _check_tables(qualified, role, schema)  # qualification may not add tables; be sure
    _check_columns(qualified, role)
    if role.aggregate_only and not aggregated:
        _check_aggregate_only(qualified, role)
    _enforce_group_sizes(qualified, role)
    _restore_output_names(names, qualified)
    _apply_views(qualified, role, schema)
    fetch = _cap_limit(qualified, role, max_rows)
    cap = min(max_rows or role.max_rows, role.max_rows)
    return Checked(
        sql=qualified.sql(DIALECT),
        tables=tables,
        functions=functions,
        fetch=fetch,
        max_rows=cap,
        expression=qualified,
    )
