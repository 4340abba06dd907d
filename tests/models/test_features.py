"""Point-in-time features: later concerts and later results never change an earlier feature."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.settings import Settings
from core.warehouse import reading, writing
from models.features import FEATURES, concert_features, training_targets
from tests.conftest import copy_warehouse


def _features(settings: Settings) -> pd.DataFrame:
    with reading(settings) as con:
        targets = training_targets(con)
        return concert_features(con, targets)


def test_features_cover_every_completed_concert(small_warehouse: Settings) -> None:
    features = _features(small_warehouse)
    assert list(features.columns) == list(FEATURES)
    assert features.index.is_unique and len(features) > 1000
    # the very first concerts have no history; later ones do
    assert features["a_n"].iloc[0] == 0 and features["a_n"].max() > 3


def test_later_data_does_not_change_earlier_features(
    small_warehouse: Settings, tmp_path: Path
) -> None:
    before = _features(small_warehouse)
    with reading(small_warehouse) as con:
        cut = con.execute(
            "SELECT quantile_disc(event_date, 0.5) FROM concert_performance "
            "WHERE status = 'completed'"
        ).fetchall()[0][0]
    writable = copy_warehouse(small_warehouse, tmp_path)
    with writing(writable) as con:
        # rewrite the future: every concert on or after the cut sells out at twice the price
        con.execute(
            "UPDATE concert_performance SET tickets_sold = capacity, sell_through = 1.0, "
            "avg_ticket_price = avg_ticket_price * 2 "
            "WHERE event_date >= ? AND capacity IS NOT NULL",
            [cut],
        )
    after = _features(writable)
    with reading(small_warehouse) as con:
        dates = (
            con.execute("SELECT concert_id, event_date FROM concert_performance")
            .df()
            .set_index("concert_id")["event_date"]
        )
    early = [k for k in before.index if pd.Timestamp(dates[k]) <= pd.Timestamp(cut)]
    assert len(early) > 300
    pd.testing.assert_frame_equal(before.loc[early], after.loc[early])
    late = [k for k in before.index if pd.Timestamp(dates[k]) > pd.Timestamp(cut)]
    assert not before.loc[late, "a_mean_st"].equals(after.loc[late, "a_mean_st"])


def test_same_day_concerts_do_not_see_each_other(small_warehouse: Settings) -> None:
    with reading(small_warehouse) as con:
        targets = training_targets(con)
        first_day = targets[targets["event_date"] == targets["event_date"].min()]
        features = concert_features(con, first_day)
    assert (features["g_mean_st"].isna()).all() and (features["v_n"] == 0).all()
