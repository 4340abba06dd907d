"""Rules that beat the classifier where a keyword is decisive: operations tools, refusals of
writes, questions outside the concert domain, similar artists, charts asked for in the question."""

from __future__ import annotations

import re
from typing import Any

from agent.planner.entities import Entities
from agent.planner.state import DialogueState

CHART_WORDS = re.compile(r"\b(chart|plot|graph|visuali[sz]e|map)\b", re.I)
_WRITE = re.compile(
    # an order to change data, not a question about change ("how did sales change?")
    r"^\s*(?:please\s+|can you\s+|could you\s+)?"
    r"(wipe|delete|drop|truncate|erase|change|update|modify|set|insert|overwrite)\b.*"
    r"\b(warehouse|table|data|prices?|tickets?|venues?|artists?|concerts?|rows?|everything)\b",
    re.I,
)
_DOMAIN = re.compile(
    r"concert|show|gig|music|band|artist|singer|venue|ticket|tour|festival|perform|genre|sell|"
    r"sales|revenue|gross|attendance|crowd|fan|audience|booking|book |stage|arena|club|theat|"
    r"popular|spotify|ticketmaster|setlist|predict|forecast|trend|sql|select|recommend|budget|price|\$",
    re.I,
)
OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "model_metrics": ("model_metrics", {}),
    "run_status": ("run_status", {}),
    "quality_report": ("quality_report", {}),
    "start_pipeline_run": ("start_pipeline_run", {"confirm": False}),
}
_SCOPED = (
    "greeting",
    "memory_recall",
    "memory_forget",
    "refine",
    "chart_request",
    "run_sql",
    "preference_statement",
)


def override(intent: str, text: str, ents: Entities, state: DialogueState) -> str:
    """Rules that beat the classifier where a keyword is decisive."""
    lowered = text.lower()
    if re.search(r"\bmodels?\b", lowered) and re.search(r"accura|metric|\berror", lowered):
        return "model_metrics"
    if re.search(r"\bpipelines?\b.*\b(status|runs?|latest)\b|\bstatus\b.*\bpipeline", lowered):
        if re.match(r"\s*(please\s+)?(run|start|trigger|launch)\b", lowered):
            return "start_pipeline_run"
        return "run_status"
    if re.search(r"\b(run|start|trigger|launch)\b.*\bpipelines?\b", lowered):
        return "start_pipeline_run"
    if re.search(r"\bquality report\b|\bdata quality\b", lowered):
        return "quality_report"
    if intent != "run_sql" and _WRITE.search(text):
        return "refuse_write"
    named = ents.artists or ents.venues or ents.cities or ents.states or ents.genres
    follow_up = state.last_call and re.search(r"\b(they|their|them|these|those)\b", lowered)
    if intent not in _SCOPED and not named and not _DOMAIN.search(text) and not follow_up:
        return "out_of_scope"
    if intent == "memory_recall" and ents.artists and not re.search(r"\b(me|my|i)\b", lowered):
        return "artist_profile"
    if re.search(r"\bsimilar to\b|\bsound(s)? like\b|\bartists like\b", lowered):
        return "similar_artists"
    if intent == "chart_request" and not state.last_table:
        return "data_question" if named or _DOMAIN.search(text) else "out_of_scope"
    return intent
