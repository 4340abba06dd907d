"""How much data each `--scale` generates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ScaleName = Literal["small", "default", "large"]


@dataclass(frozen=True)
class Scale:
    """Entity counts for one scale; ticket sales are a target the generator meets or exceeds."""

    name: ScaleName
    artists: int
    venues: int
    fans: int
    concerts: int
    ticket_sales: int
    sales_chunk_rows: int = 500_000

    @property
    def id_widths(self) -> dict[str, int]:
        """Zero-padding of generated ids, wide enough for this scale."""
        return {
            "artist": len(str(self.artists)) + 1,
            "venue": len(str(self.venues)) + 1,
            "fan": len(str(self.fans)) + 1,
            "concert": len(str(self.concerts)) + 1,
            "sale": len(str(self.ticket_sales * 2)) + 1,
        }


SCALES: Final[dict[ScaleName, Scale]] = {
    # >= 10,000 records in all, in a second or two: for tests and quick looks
    "small": Scale(
        "small", artists=250, venues=120, fans=2_500, concerts=1_500, ticket_sales=12_000
    ),
    "default": Scale(
        "default", artists=2_000, venues=800, fans=50_000, concerts=25_000, ticket_sales=1_020_000
    ),
    "large": Scale(
        "large",
        artists=10_000,
        venues=3_000,
        fans=400_000,
        concerts=150_000,
        ticket_sales=10_200_000,
        sales_chunk_rows=1_000_000,
    ),
}
