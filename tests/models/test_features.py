"""Point-in-time features: later concerts and later results never change an earlier feature."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.settings import Settings
from core.warehouse import reading, writing
from models import features
from models.features import FEATURES, FEW_TARGETS, concert_features, training_targets
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


def test_a_few_targets_get_the_features_of_the_full_run(small_warehouse: Settings) -> None:
    """A prediction computes history only for its own artists, venues and genres: the features
    must be the ones training computes with every concert at once."""
    with reading(small_warehouse) as con:
        targets = training_targets(con)
        # a scheduled-style target (price unknown, as of the data's end) and an unseen artist
        upcoming = targets.iloc[[-1]].assign(
            key="upcoming",
            event_date=pd.Timestamp("2026-12-20"),
            as_of=targets["event_date"].max() + pd.Timedelta(days=1),
            price=float("nan"),
        )
        unseen = upcoming.assign(key="unseen", artist_id="no-such-artist")
        everything = pd.concat([targets, upcoming, unseen], ignore_index=True)
        full = concert_features(con, everything)
        seasoned = (full[["a_n", "v_n", "am_n"]].to_numpy() > 0).all(axis=1).nonzero()[0]
        # no history yet, the first and the last with artist, venue and artist-state history
        picks = [0, int(seasoned[0]), int(seasoned[-2])]
        for i in picks:
            one = concert_features(con, everything.iloc[[i]])
            pd.testing.assert_frame_equal(one, full.iloc[[i]], check_categorical=False)
        few = everything.iloc[[*picks, len(targets), len(targets) + 1]]
        pd.testing.assert_frame_equal(
            concert_features(con, few), full.loc[few["key"]], check_categorical=False
        )
        # and the benchmark's baseline, every group's totals for the same few, agrees too
        pd.testing.assert_frame_equal(
            concert_features(con, few, every_group=True),
            full.loc[few["key"]],
            check_categorical=False,
        )
    assert full.loc["upcoming", "a_n"] > 0 and full.loc["unseen", "a_n"] == 0


def test_a_prediction_s_few_targets_take_the_small_query_with_the_same_features(
    small_warehouse: Settings,
) -> None:
    """Up to FEW_TARGETS targets take a query planned in a fraction of the time; their features
    are the full query's, to the last bits of a running mean (which the full query does not fix
    from one run to the next either)."""
    with reading(small_warehouse) as con:
        targets = training_targets(con)
        upcoming = targets.iloc[[-1]].assign(
            key="upcoming",
            event_date=pd.Timestamp("2026-12-20"),
            as_of=targets["event_date"].max() + pd.Timedelta(days=1),
            price=float("nan"),
            on_sale_date=pd.NaT,
        )
        few = pd.concat(
            [
                targets.iloc[[0, 40, 400, len(targets) // 2, len(targets) - 3]],
                upcoming,
                upcoming.assign(key="no-artist", artist_id="no-such-artist"),
                upcoming.assign(key="no-venue", venue_id="no-such-venue"),
                upcoming.assign(key="priced", price=55.0),
            ],
            ignore_index=True,
        )
        assert len(few) <= FEW_TARGETS
        small = concert_features(con, few)
        full = concert_features(con, few, every_group=True)
    assert list(small.index) == list(few["key"]) and list(small.columns) == list(FEATURES)
    pd.testing.assert_frame_equal(small, full, check_exact=False, rtol=1e-12, atol=0)
    assert small.loc["no-artist", "a_n"] == 0 and pd.isna(small.loc["no-artist", "genre"])
    assert small.loc["no-venue", "v_n"] == 0 and pd.isna(small.loc["no-venue", "capacity"])
    assert small.loc["upcoming", "a_n"] > 0 and small.loc["priced", "price"] == 55.0


def test_the_small_query_gives_the_bits_the_targets_query_gave(
    small_warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one thread (DuckDB's parallel windows may add their rows in another order from one
    run to the next) the few-targets query computes exactly what the targets' query computed
    before it: the same windows over the same partitions."""
    one_thread = small_warehouse.model_copy(update={"query_threads": 1})
    with reading(one_thread) as con:
        targets = training_targets(con)
        few = targets.iloc[[5, 300, 700, 900, len(targets) - 1]]
        small = concert_features(con, few)
        monkeypatch.setattr(features, "FEW_TARGETS", 0)
        before = concert_features(con, few)
    pd.testing.assert_frame_equal(small, before, check_exact=True)
