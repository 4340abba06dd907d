"""Agent memory: short-term turns per session, long-term preferences per user, with retention.

`LocalMemory` (SQLite under `settings.memory_dir`) is the default; `AgentCoreMemory` is the
adapter for AgentCore Memory. Both implement `base.Memory`.
"""

from agent.memory.base import Memory, MemoryEvent, PreferenceKind, Preferences
from agent.memory.extract import extract_preferences
from agent.memory.local import LocalMemory

__all__ = [
    "LocalMemory",
    "Memory",
    "MemoryEvent",
    "PreferenceKind",
    "Preferences",
    "extract_preferences",
]
