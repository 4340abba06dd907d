"""Where pipeline output goes: the warehouse and files."""

from typing import Final, Literal

FileFormat = Literal["csv", "json", "xml", "parquet"]
"""The formats `FileSink` writes; here, not in `files.py`, so a CLI option can name them
without loading pyarrow and DuckDB."""
FILE_FORMATS: Final[tuple[FileFormat, ...]] = ("csv", "json", "xml", "parquet")
