"""Encore's capabilities as plain typed functions (never imports `mcp` or `strands`).

Each function takes a `ToolContext` first and returns a pydantic model, so the MCP servers can
publish its input and output schemas as they are.
"""
