"""The offline planner: a Strands model that answers by planning tool calls (DESIGN §5)."""

from agent.planner.model import OfflinePlanner

__all__ = ["OfflinePlanner"]
