"""Rules that beat the classifier where a keyword is decisive: operations tools, refusals of
writes, questions outside the concert domain, similar artists, charts asked for in the question."""

from __future__ import annotations

import re
from typing import Any

from agent.planner.entities import Entities
from agent.planner.state import DialogueState

CHART_WORDS = re.compile(r"\b(chart|plot|graph|visuali[sz]e|map|heatmap|scatter)\b", re.I)
_WRITE = re.compile(
    # an order to change data, not a question about change ("how did sales change?")
    r"^\s*(?:please\s+|can you\s+|could you\s+)?"
    r"(wipe|delete|drop|truncate|erase|change|update|modify|set|insert|overwrite)\b.*"
    r"\b(warehouse|database|db|tables?|data|prices?|tickets?|venues?|artists?|concerts?|rows?|"
    r"records?|fans?|customers?|users?|sales|everything)\b",
    re.I,
)
# a statement typed as SQL goes to run_sql, whose guard names what it refuses
_SQL_STATEMENT = re.compile(
    r"^\s*(delete\s+from|drop\s+(table|view|schema)|truncate(\s+table)?\s+\w+$|insert\s+into|"
    r"update\s+\S+\s+set|alter\s+table|create\s+(or\s+replace\s+)?(table|view))\b",
    re.I,
)
_DOMAIN = re.compile(
    r"concert|show|gig|music|band|artist|singer|venue|ticket|tour|festival|perform|genre|sell|"
    r"sales|revenue|gross|attendance|crowd|fan|audience|booking|book |stage|arena|club|theat|"
    r"popular|spotify|ticketmaster|setlist|predict|forecast|trend|sql|select|recommend|budget|price|"
    r"busiest|quietest|\$",
    re.I,
)
_SQL_ORDER = re.compile(
    r"^\s*(?:please\s+)?(?:run|execute|exec)\b.{0,20}\bsql\b|^\s*sql\s*:", re.I | re.S
)
# personal data of fans or anyone else: never shown, whatever the role
_PRIVATE = re.compile(
    r"\b(e-?mails?|(home |postal |street )?address(es)?|phone|passwords?|credit cards?|"
    r"social security|ssn|dates? of birth|birthdays?|personal (data|details|information))\b",
    re.I,
)
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|yo|howdy|greetings|good (morning|afternoon|evening|day)|thanks|"
    r"thank you|cheers|help|how (does|do i|can i)|what (are|can|sort|kind|do) (you|of|questions)|"
    r"who are you)\b",
    re.I,
)
_MOST_SOLD = re.compile(
    r"\b(sold the most|most tickets|most (gross|revenue)|highest (gross|revenue|sales)|"
    r"by (tickets|gross|revenue|sales))\b",
    re.I,
)
_COUNT_CONCERTS = re.compile(
    r"^\s*(how many|number of|count)\b.*\b(concerts?|shows?|gigs?)\b", re.I
)
_PEOPLE = re.compile(r"\b(fans?|customers?|buyers?|users?|people)\b", re.I)
# a message that tries to replace the assistant's instructions (role-play jailbreaks): no tools
_OVERRIDE = re.compile(
    r"ignore (all |any )?(the |your |my )?(previous |prior |above |earlier )?(instructions|rules)|"
    r"you are (about to|going to) (immerse|act|pretend|play)|\bdeveloper mode\b|\bjailbr[eo]ak|"
    r"do anything now|stay in character|pretend (to be|you are)|from now on,? you (are|will)",
    re.I,
)
OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "model_metrics": ("model_metrics", {}),
    "run_status": ("run_status", {}),
    "quality_report": ("quality_report", {}),
    "pipeline_health": ("pipeline_health", {}),
    "start_pipeline_run": ("start_pipeline_run", {"confirm": False}),
}
_ABOUT_AN_ARTIST = (
    "artist_profile",
    "similar_artists",
    "artist_venues",
    "artist_compare_genre",
    "external_lookup",
    "popularity_vs_history",
    "predict_sales",
)
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
    if _OVERRIDE.search(text) or len(text.split()) > 150:
        return "refuse_instructions"
    if _SQL_ORDER.search(text) or _SQL_STATEMENT.search(text):
        return "run_sql"
    if _PRIVATE.search(text) and _PEOPLE.search(text):
        return "refuse_private"
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
    if re.search(
        r"\bpipelines?'? health\b|\bhealth of the (data|pipelines?)\b|\bdashboard\b|"
        r"\bis (the|our) data (ok|okay|healthy|fresh|up to date)\b|\bhow fresh is\b|"
        r"\bdid (the|any) (pipelines?|loads?|runs?|ingestions?) fail",
        lowered,
    ):
        return "pipeline_health"
    if _WRITE.search(text) and not _SQL_STATEMENT.search(text):
        return "refuse_write"
    named = ents.artists or ents.venues or ents.cities or ents.states or ents.genres
    if intent in _ABOUT_AN_ARTIST:
        named = named or ents.unmatched  # a name we don't know: the tool says so, with close ones
    if intent == "greeting" and not _GREETING.search(text):
        intent = "data_question" if named or _DOMAIN.search(text) else "out_of_scope"
    follow_up = state.last_call and re.search(r"\b(they|their|them|these|those)\b", lowered)
    if intent not in _SCOPED and not named and not _DOMAIN.search(text) and not follow_up:
        return "out_of_scope"
    if intent == "memory_recall" and ents.artists and not re.search(r"\b(me|my|i)\b", lowered):
        return "artist_profile"
    if re.search(r"\bsimilar to\b|\bsound(s)? like\b|\bartists like\b", lowered):
        return "similar_artists"
    if intent in ("venue_ranking", "venue_for_artist", "upcoming_concerts") and (
        (intent != "upcoming_concerts" and _MOST_SOLD.search(text))
        or (intent == "upcoming_concerts" and _COUNT_CONCERTS.search(text))
    ):
        return "data_question"  # a figure from the data, not a ranking score or a listing
    if intent == "chart_request" and not state.last_table:
        return "data_question" if named or _DOMAIN.search(text) else "out_of_scope"
    return intent
