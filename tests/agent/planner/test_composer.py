"""How answers print numbers: one money unit per table column, people's units for single values."""

from __future__ import annotations

from agent.planner.composer import compose, explain_error, fmt, markdown
from agent.planner.state import Call


def _column(table: str, index: int) -> list[str]:
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    return [row.strip("|").split("|")[index].strip() for row in rows]


def test_a_money_column_uses_one_unit_for_every_row() -> None:
    table = {
        "columns": ["venue", "gross_revenue"],
        "rows": [["Hall", 7989.87], ["Arena", 11234.0], ["Stadium", 1534567.0]],
    }
    assert _column(markdown(table), 1) == ["$0.01M", "$0.01M", "$1.53M"]


def test_large_amounts_read_in_thousands_and_prices_keep_their_cents() -> None:
    grosses = {"columns": ["venue", "gross"], "rows": [["A", 17989.87], ["B", 211234.0]]}
    prices = {"columns": ["venue", "price_min"], "rows": [["A", 45.5], ["B", 60.0]]}
    assert _column(markdown(grosses), 1) == ["$18K", "$211K"]
    assert _column(markdown(prices), 1) == ["$45.50", "$60.00"]


def test_single_values_read_as_people_say_them() -> None:
    assert (fmt(1234567.0, "gross"), fmt(15000, "revenue"), fmt(45.5, "price")) == (
        "$1.2M",
        "$15K",
        "$45.50",
    )
    assert (fmt(0.87, "sell_through"), fmt(12345, "tickets"), fmt(None)) == ("87%", "12,345", "")


def test_a_role_refusal_reads_as_one_not_as_a_failed_step() -> None:
    refused = "role partner may not look up fans by id; ask by genres instead"
    call = Call(name="recommend_concerts", input={"fan_id": "F1"}, error=refused)
    assert explain_error(call).startswith("That isn't available to your role: role partner")


def test_years_and_ids_print_without_separators_while_counts_keep_them() -> None:
    table = {
        "columns": ["year", "formed_year", "season", "venue_id", "tickets_sold", "gross"],
        "rows": [
            [2020, 1994.0, 2023, 10234, 12345, 1534567.0],
            [2021, 2001.0, 2024, 7, 987, 7989.87],
        ],
    }
    text = markdown(table)
    assert _column(text, 0) == ["2020", "2021"]
    assert _column(text, 1) == ["1994", "2001"]
    assert _column(text, 2) == ["2023", "2024"]
    assert _column(text, 3) == ["10234", "7"]
    assert _column(text, 4) == ["12,345", "987"]
    assert _column(text, 5) == ["$1.53M", "$0.01M"]
    assert "2,0" not in text
    assert (fmt(2020, "Year"), fmt(12, "years_active"), fmt(2020.5, "year")) == (
        "2020",
        "12",
        "2,020.50",
    )


def test_recommendations_that_match_nothing_liked_say_so() -> None:
    def concert(artist: str, score: float, reason: str) -> dict[str, object]:
        where = {"venue": "Hall", "city": "Austin", "event_date": "2026-12-01"}
        return {"rank": 1, "concert_id": artist, "artist": artist, **where,
                "score": score, "reason": reason}  # fmt: skip

    window = {"genres": ["rock", "alternative"], "date_from": "2026-11-27", "date_to": "2026-12-27"}
    others = [concert("Ada", 0.0, "popular country act"), concert("Bo", 0.0, "popular pop act")]
    call = Call(name="recommend_concerts", input=window, result={"items": others})
    answer = compose("recommend_concerts", [call], [], None)
    assert answer.startswith("Nothing matching rock or alternative is on in those dates")
    matches = [concert("Cy", 0.8, "you like rock"), *others]
    call = Call(name="recommend_concerts", input=window, result={"items": matches})
    assert "Nothing matching" not in compose("recommend_concerts", [call], [], None)
