"""Checkpoints and the fair reader that both stream kinds share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import SourceError, ValidationError
from pipelines.stream.base import CheckpointStore, gather


def test_checkpoints_only_move_forward_and_persist(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "sales")
    assert store.load("loader") == {}
    store.advance("loader", {"0": "9", "1": "3"})
    store.advance("loader", {"0": "4", "1": "10"})  # 0 would move back: ignored
    reopened = CheckpointStore(tmp_path, "sales")
    assert reopened.load("loader") == {"0": "9", "1": "10"}
    assert [p.name for p in tmp_path.iterdir()] == ["loader.json"], "no temp files left"
    assert json.loads((tmp_path / "loader.json").read_text())["stream"] == "sales"


def test_sequence_numbers_compare_as_numbers_not_text(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, "sales")
    store.advance("g", {"shardId-0": "9"})
    store.advance("g", {"shardId-0": "49590338271490256608559692538361571095921575989136588898"})
    assert store.load("g")["shardId-0"].startswith("4959")


def test_an_unreadable_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "loader.json").write_text("{")
    with pytest.raises(SourceError, match="delete it to re-read"):
        CheckpointStore(tmp_path, "sales").load("loader")


@pytest.mark.parametrize("group", ["", "../etc", ".hidden", "a/b", "x" * 129])
def test_group_names_that_are_not_safe_file_names_are_refused(tmp_path: Path, group: str) -> None:
    with pytest.raises(ValidationError, match="group name"):
        CheckpointStore(tmp_path, "sales").load(group)


def test_gather_shares_the_budget_and_refills_from_busy_partitions() -> None:
    logs = {"a": list(range(100)), "b": [1000], "c": []}
    taken = dict.fromkeys(logs, 0)

    def fetch(partition: str, limit: int) -> list[int]:
        got = logs[partition][taken[partition] : taken[partition] + limit]
        taken[partition] += len(got)
        return got

    out = gather(list(logs), 10, 0, fetch)
    assert len(out) == 10
    assert 1000 in out
    assert [x for x in out if x < 1000] == list(range(9))
    with pytest.raises(ValueError, match="at least 1"):
        gather(list(logs), 0, 0, fetch)
