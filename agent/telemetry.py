"""OpenTelemetry for the agent: a span per turn (Strands adds spans per model call and per tool
call beneath it), turn latency and token metrics.

    ENCORE_TRACES=none | console | file:PATH (one JSON span per line) | otlp (OTEL_EXPORTER_OTLP_*)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span

from core.errors import ConfigError

_configured: set[str] = set()
_lock = threading.Lock()
_tracer = trace.get_tracer("encore.agent")
_meter = metrics.get_meter("encore.agent")
_latency = _meter.create_histogram("encore.turn.latency", unit="ms", description="turn latency")
_tokens = _meter.create_counter("encore.turn.tokens", unit="{token}", description="model tokens")
_tool_calls = _meter.create_counter("encore.turn.tool_calls", description="tool calls per turn")


class JsonLinesExporter(SpanExporter):
    """Appends each finished span as one JSON line to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(json.loads(span.to_json()), separators=(",", ":")) for span in spans]
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
        return SpanExportResult.SUCCESS


def configure(traces: str) -> None:
    """Install the exporter `traces` names (once per process and setting)."""
    if traces in ("", "none") or traces in _configured:
        return
    from strands.telemetry import StrandsTelemetry

    with _lock:
        if traces in _configured:
            return
        telemetry = StrandsTelemetry()  # sets the global tracer provider Strands' spans use
        if traces == "console":
            telemetry.setup_console_exporter()
        elif traces == "otlp":
            telemetry.setup_otlp_exporter()
            telemetry.setup_meter(enable_otlp_exporter=True)
        elif traces.startswith("file:"):
            # the global provider (set by whoever came first in this process) is the one that
            # records Strands' spans
            provider: Any = trace.get_tracer_provider()
            if not hasattr(provider, "add_span_processor"):
                provider = telemetry.tracer_provider
            provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(Path(traces[5:]))))
        else:
            raise ConfigError(f"ENCORE_TRACES={traces!r}: use none, console, file:PATH or otlp")
        _configured.add(traces)


@contextmanager
def turn_span(*, user: str, session: str, text: str) -> Iterator[Span]:
    """The span of one agent turn; Strands' agent, model and tool spans nest inside it."""
    with _tracer.start_as_current_span(
        "encore.turn",
        attributes={"user.id": user, "session.id": session, "encore.question": text[:500]},
    ) as span:
        yield span


def record_turn(span: Span, latency_ms: float, usage: dict[str, Any], tool_calls: int) -> None:
    """Latency and token figures of a finished turn, on its span and as metrics."""
    span.set_attribute("encore.latency_ms", latency_ms)
    span.set_attribute("encore.tool_calls", tool_calls)
    _latency.record(latency_ms)
    _tool_calls.add(tool_calls)
    for key, kind in (("inputTokens", "input"), ("outputTokens", "output")):
        count = int(usage.get(key, 0) or 0)
        span.set_attribute(f"gen_ai.usage.{kind}_tokens", count)
        if count:
            _tokens.add(count, {"kind": kind})
