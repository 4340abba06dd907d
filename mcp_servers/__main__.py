"""`python -m mcp_servers SERVER [--transport stdio|http] [--port N]`."""

from mcp_servers.cli import main

main()
