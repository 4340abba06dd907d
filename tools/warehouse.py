"""Where tools get warehouse connections: `core.warehouse.reading` and `writing`."""

from core.warehouse import reading, writing

__all__ = ["reading", "writing"]
