"""Charts built from query results by our own code: plotly figure JSON and, on request, PNG."""

from tools.charts.build import Chart, ChartKind, make_chart

__all__ = ["Chart", "ChartKind", "make_chart"]
