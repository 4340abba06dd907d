"""Dialogue state recovered from the replayed conversation: turns, their tool calls and results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from strands.types.content import Messages

PRIMARY = (
    "semantic_query",
    "venue_ranking",
    "recommend_concerts",
    "upcoming_concerts",
    "venues_for_artist",
    "predict_ticket_sales",
    "artist_profile",
)


@dataclass
class Call:
    """One tool call of a turn and what came back."""

    name: str
    input: dict[str, Any]
    result: Any = None
    error: str | None = None


@dataclass
class Turn:
    """A user message and the tool calls made to answer it."""

    text: str
    calls: list[Call] = field(default_factory=list)


def _result(block: dict[str, Any]) -> tuple[Any, str | None]:
    values: list[Any] = []
    for item in block.get("content", []):
        if "json" in item:
            values.append(item["json"])
        elif "text" in item:
            try:
                values.append(json.loads(item["text"]))
            except (ValueError, TypeError):
                values.append(item["text"])
    # MCP results may carry the same payload twice (structured JSON and its text): take the data
    structured = [v for v in values if isinstance(v, dict | list)]
    value = structured[0] if structured else " ".join(str(v) for v in values)
    if block.get("status") == "error":
        return None, " ".join(str(v) for v in values) or "the tool failed"
    if isinstance(value, dict) and value.get("isError"):
        return None, str(value.get("content") or value)
    return value, None


def recover_turns(messages: Messages) -> list[Turn]:
    """The conversation as turns; a user message without text (tool results only) continues one."""
    turns: list[Turn] = []
    pending: dict[str, Call] = {}
    for message in messages:
        for block in message.get("content", []):
            data: dict[str, Any] = dict(block)
            if message["role"] == "user" and "text" in data:
                turns.append(Turn(text=str(data["text"])))
            elif "toolUse" in data and turns:
                use = data["toolUse"]
                call = Call(name=use["name"], input=dict(use.get("input") or {}))
                turns[-1].calls.append(call)
                pending[use["toolUseId"]] = call
            elif "toolResult" in data:
                found = pending.get(data["toolResult"].get("toolUseId", ""))
                if found is not None:
                    found.result, found.error = _result(dict(data["toolResult"]))
    return turns


def table_of(value: Any) -> dict[str, Any] | None:
    """The table (columns, rows) inside a tool result, if there is one."""
    if isinstance(value, dict):
        if isinstance(value.get("columns"), list) and isinstance(value.get("rows"), list):
            return value
        inner = value.get("table")
        if isinstance(inner, dict) and isinstance(inner.get("columns"), list):
            return inner
    return None


def records(value: Any) -> list[dict[str, Any]]:
    """Rows of a result as dictionaries (from `items`, `rows` of dicts, or a table)."""
    if isinstance(value, dict):
        for key in ("items", "predictions", "rows"):
            listed = value.get(key)
            if isinstance(listed, list) and listed and isinstance(listed[0], dict):
                return listed
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value
    table = table_of(value)
    if table is not None:
        return [dict(zip(table["columns"], row, strict=False)) for row in table["rows"]]
    return []


@dataclass
class DialogueState:
    """What follow-ups refer to: the last main call, table, artist, genre and concerts."""

    last_call: Call | None = None
    last_sql: Call | None = None
    """The raw SQL that answered after `last_call` (run_sql: it cannot be regrouped), if any."""
    stood_in_for: Call | None = None
    """The semantic query `last_sql` answered in place of (one the role may not run), if any."""
    _failed_query: Call | None = None
    last_table: dict[str, Any] | None = None
    artist: str | None = None
    genre: str | None = None
    concert_ids: list[str] = field(default_factory=list)
    remembered: dict[str, Any] = field(default_factory=dict)
    last_remembered: str | None = None

    @classmethod
    def from_turns(cls, turns: list[Turn]) -> DialogueState:
        state = cls()
        for turn in turns:
            state._failed_query = None  # a fallback stands in for its own turn's query only
            for call in turn.calls:
                state.absorb(call)
        state._failed_query = None
        return state

    def absorb(self, call: Call) -> None:
        """Update the state with one finished call."""
        if call.error is not None:
            if call.name == "semantic_query":
                self._failed_query = call
            return
        if call.name in PRIMARY:
            self.last_call = call
            self.last_sql = self.stood_in_for = None
        if call.name == "run_sql":
            # the turn's answer, e.g. the fans counted when the role may not run the sales query
            self.last_sql, self.stood_in_for = call, self._failed_query
        if call.name == "remember_preference" and call.input.get("kind"):
            kind, value = str(call.input["kind"]), str(call.input.get("value", ""))
            listed = [v.strip() for v in value.split(",") if v.strip()]
            self.remembered[kind] = listed if kind in ("genres", "artists") else value
            self.last_remembered = kind
        if call.name == "forget_memory":
            what = call.input.get("what")
            self.remembered = {k: v for k, v in self.remembered.items() if what and k != what}
        artist = call.input.get("artist") or (call.input.get("artists") or [None])[0]
        if isinstance(artist, str) and artist:
            self.artist = artist
        if call.name == "lookup_source" and call.input.get("query"):
            self.artist = str(call.input["query"])
        result = call.result
        if call.name == "artist_profile" and isinstance(result, dict):
            facts = result.get("artist") or {}
            self.artist = str(facts.get("name") or self.artist)
            self.genre = facts.get("genre") or (result.get("genre_standing") or {}).get("genre")
        table = table_of(result)
        if table is not None and call.name != "make_chart":
            self.last_table = {"columns": table["columns"], "rows": table["rows"]}
        ids = [str(r["concert_id"]) for r in records(result) if r.get("concert_id")]
        if ids and call.name in ("recommend_concerts", "upcoming_concerts"):
            self.concert_ids = ids
