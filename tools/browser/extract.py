"""From HTML to what a reader needs: title, main text, JSON-LD events, injection warnings.

Nothing here deletes content: text that looks like instructions to a model is reported in
`suspicious_instructions` and left in place, so the caller sees exactly what the page said.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

import trafilatura

EVENT_TYPES: Final = frozenset(
    {"Event", "MusicEvent", "Festival", "ComedyEvent", "TheaterEvent", "DanceEvent"}
)

_INJECTION_PATTERNS: Final = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|all|your)\b[^.\n]{0,30}\b(?:instructions?|prompts?|rules|directions|context)\b[^.\n]{0,120}",
        r"\byou are now\b[^.\n]{0,120}",
        r"\bfrom now on,? you (?:will|are going to|must|shall|have to)\b[^.\n]{0,120}",
        r"\byou are (?:going|about) to (?:play|pretend|immerse|act|be)\b[^.\n]{0,120}",
        r"\b(?:pretend|act|behave) (?:to be|as|like) (?:an? )?"
        r"(?:ai|assistant|model|dan|dude|stan)\b[^.\n]{0,80}",
        r"\b(?:dan|dude|stan|developer) mode\b[^.\n]{0,80}",
        r"\bdo anything now\b[^.\n]{0,80}",
        r"\bstop everything\b[^\n]{0,120}",
        r"\bjust (?:print|say|output|reply)\b[^\n]{0,120}",
        r"\b(?:new|updated|real) (?:system )?instructions?\s*:[^\n]{0,120}",
        r"\bsystem prompt\b[^.\n]{0,120}",
        r"\b(?:act|behave|pretend|respond) as (?:if you were |an? )?"
        r"(?:unrestricted|jailbroken|dan|developer mode)\b[^.\n]{0,80}",
        r"\bdo not (?:tell|inform|reveal to) the user\b[^.\n]{0,120}",
        r"\b(?:call|invoke|use|run) the (?:tool|function) [\w.-]+[^.\n]{0,80}",
        r"</?(?:system|assistant|instructions?)>",
        r"\bjailbreak\b[^.\n]{0,80}",
        r"\b(?:send|post|exfiltrate|forward|email)\b[^.\n]{0,40}"
        r"\b(?:api keys?|passwords?|credentials|secrets?|tokens?)\b[^.\n]{0,80}",
    )
)

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_LD_JSON = re.compile(
    r"<script[^>]+type\s*=\s*[\"']application/ld\+json[\"'][^>]*>(.*?)</script>",
    re.IGNORECASE | re.DOTALL,
)
_DROP = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"</?(?:p|div|br|li|h[1-6]|tr|section|article|header|footer)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Extracted:
    """The readable parts of one page."""

    title: str | None
    text: str
    items: list[dict[str, Any]] = field(default_factory=list)
    extractor: str = "trafilatura"


def decode(body: bytes, encoding: str | None) -> str:
    """Body bytes as text, trusting the declared charset and falling back to UTF-8."""
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def extract(markup: str, content_type: str, url: str) -> Extracted:
    """Title, main text and structured events of a page (plain text and JSON pass through)."""
    if content_type in ("application/json", "application/ld+json"):
        return Extracted(None, markup, _events_from_json_text(markup), extractor="json")
    if content_type == "text/plain":
        return Extracted(None, markup.strip(), [], extractor="plain")
    title = _title(markup)
    text = trafilatura.extract(
        markup, url=url, include_comments=False, include_tables=True, favor_recall=True
    )
    extractor = "trafilatura"
    if not text or not text.strip():
        text, extractor = simple_text(markup), "simple"
    items: list[dict[str, Any]] = []
    for block in _LD_JSON.findall(markup):
        items.extend(_events_from_json_text(html.unescape(block) if "&quot;" in block else block))
    return Extracted(title, text.strip(), items, extractor)


def simple_text(markup: str) -> str:
    """Visible text by tag stripping: the fallback when trafilatura finds no main content."""
    stripped = _DROP.sub(" ", markup)
    stripped = _BLOCK.sub("\n", stripped)
    stripped = html.unescape(_TAG.sub(" ", stripped))
    lines = (" ".join(line.split()) for line in stripped.splitlines())
    return "\n".join(line for line in lines if line)


def suspicious_instructions(text: str) -> list[str]:
    """Passages that read like instructions aimed at a model (prompt injection), as found."""
    found: list[str] = []
    for pattern in _INJECTION_PATTERNS:
        for match in pattern.finditer(text):
            passage = " ".join(match.group(0).split())
            if passage not in found:
                found.append(passage)
    return found


def _title(markup: str) -> str | None:
    match = _TITLE.search(markup)
    if match:
        title = " ".join(html.unescape(_TAG.sub("", match.group(1))).split())
        if title:
            return title
    meta = trafilatura.extract_metadata(markup)
    return meta.title if meta is not None and meta.title else None


def _events_from_json_text(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError:
        return []  # broken JSON-LD is common on the web; the text still carries the content
    return [_event(node) for node in _walk(data) if _is_event(node)]


def _walk(data: Any) -> list[dict[str, Any]]:
    """Every JSON object in `data`, depth first (covers @graph and nested lists)."""
    found: list[dict[str, Any]] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append(node)
            stack.extend(reversed([v for v in node.values() if isinstance(v, dict | list)]))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return found


def _is_event(node: dict[str, Any]) -> bool:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k in EVENT_TYPES for k in kinds)


def _name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return str(value["name"])
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) or None
    return None


def _event(node: dict[str, Any]) -> dict[str, Any]:
    """A schema.org Event reduced to the fields a concert question needs."""
    location = node.get("location")
    address = location.get("address") if isinstance(location, dict) else None
    offers = node.get("offers")
    offer = offers[0] if isinstance(offers, list) and offers else offers
    item: dict[str, Any] = {
        "type": node.get("@type"),
        "name": node.get("name"),
        "start_date": node.get("startDate"),
        "end_date": node.get("endDate"),
        "status": node.get("eventStatus"),
        "performer": _name(node.get("performer")),
        "venue": _name(location),
        "city": address.get("addressLocality") if isinstance(address, dict) else None,
        "region": address.get("addressRegion") if isinstance(address, dict) else None,
        "country": _name(address.get("addressCountry")) if isinstance(address, dict) else None,
        "url": node.get("url"),
    }
    if isinstance(offer, dict):
        item["price"] = offer.get("price") or offer.get("lowPrice")
        item["currency"] = offer.get("priceCurrency")
        item["availability"] = offer.get("availability")
    return {k: v for k, v in item.items() if v is not None}
