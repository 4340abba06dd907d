"""Names typed by people matched to known ones: exact (any case), then fuzzy, else close names.

The one resolver behind every tool and model that takes a typed artist, venue, city, state or
genre. It lives in core so that both tools/ and models/ can use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rapidfuzz import fuzz, process, utils

from core.errors import ValidationError

FUZZY_CUTOFF: Final = 86.0
"""WRatio score above which a typed name is taken as meant (typos, missing 'The')."""


def match_name(
    kind: str,
    text: str,
    names: Sequence[str],
    *,
    ids: Sequence[str] | None = None,
    cutoff: float = FUZZY_CUTOFF,
    among: str = "",
) -> int:
    """The position in `names` of the one a user means; an id in `ids` is accepted as typed.

    Order: exact id, name in any case, id in any case, then the best fuzzy match scoring at least
    `cutoff`. Otherwise a ValidationError "no <kind> named '<text>'<among>; did you mean: ...?"
    carrying the close names as `suggestions`.
    """
    wanted = text.strip()
    if not wanted:
        raise ValidationError(f"name the {kind}", field=kind)
    names = [str(name) for name in names]
    keys = [str(key) for key in ids] if ids is not None else names
    lowered = wanted.lower()
    for column, typed in (
        (keys, wanted),
        ([name.lower() for name in names], lowered),
        ([key.lower() for key in keys], lowered),
    ):
        if typed in column:
            return column.index(typed)
    # default_process lower-cases and strips punctuation, so case never costs a match
    best = process.extract(
        wanted,
        dict(enumerate(names)),
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=3,
    )
    if best and best[0][1] >= cutoff:
        return int(best[0][2])
    close = list(dict.fromkeys(name for name, _, _ in best))
    raise ValidationError(
        f"no {kind} named {wanted!r}{among}"
        + (f"; did you mean: {', '.join(close)}?" if close else ""),
        field=kind,
        value=wanted,
        suggestions=close,
    )
