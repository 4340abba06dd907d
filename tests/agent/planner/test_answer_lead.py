"""An answer opens with what the table says, in a sentence, not "N rows; the first: ..."."""

from __future__ import annotations

from agent.planner.composer import compose
from agent.planner.state import Call


def _semantic(rows: list[list[object]], columns: list[str], **query: object) -> Call:
    table = {"columns": columns, "rows": rows}
    return Call(name="semantic_query", input=query, result={"table": table, "sql": "SELECT 1"})


def test_a_ranked_answer_names_the_leader_the_measure_and_the_runner_up() -> None:
    call = _semantic(
        [["web", 1_033_000, 15654], ["mobile", 707_000, 10572], ["partner", 203_000, 3082]],
        ["channel", "gross_revenue", "tickets_sold"],
        measures=["gross_revenue", "tickets_sold"], dimensions=["channel"],
        order_by=[{"field": "gross_revenue", "descending": True}],
    )  # fmt: skip
    first = compose("metric_query", [call], [], None).splitlines()[0]
    # the amounts as the table's column reads them: mobile is $0.7M there, not $707K
    assert first == "Web has the most gross revenue ($1.0M), then mobile ($0.7M); 3 rows in all."


def test_a_single_value_is_said_as_a_value() -> None:
    call = _semantic([[248_300_000]], ["gross_revenue"], measures=["gross_revenue"])
    assert compose("metric_query", [call], [], None).splitlines()[0] == "Gross revenue $248.3M."
