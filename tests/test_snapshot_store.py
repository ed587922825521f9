import logging
import os
import stat

import pytest

from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from streamal.decider import Decider
from streamal.engine import Engine
from streamal.snapshot import Snapshot, SnapshotError
from streamal.training import TrainingFold


def _snapshot(offset: int) -> Snapshot:
    fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider()))
    return Snapshot(fold, {"events": {0: offset}})


def test_a_damaged_newest_snapshot_falls_back_to_the_previous_one(tmp_path, caplog):
    store = SnapshotStore(tmp_path, key=b"k")
    store.save(_snapshot(10))
    newest = store.save(_snapshot(20))
    newest.write_bytes(newest.read_bytes()[:-10])
    with caplog.at_level(logging.ERROR):
        snapshot, path = store.newest()
    assert snapshot.offsets == {"events": {0: 10}}
    assert path.name == "snapshot-000000000001.bin"
    assert "refusing snapshot" in caplog.text and "truncated" in caplog.text


def test_only_the_last_few_snapshots_are_kept_and_no_temporary_file_remains(tmp_path):
    store = SnapshotStore(tmp_path, key=b"k", keep=2)
    for offset in range(5):
        store.save(_snapshot(offset))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["snapshot-000000000004.bin", "snapshot-000000000005.bin"]
    assert store.newest()[0].offsets == {"events": {0: 4}}


def test_a_snapshot_from_another_key_is_refused(tmp_path):
    SnapshotStore(tmp_path, key=b"theirs").save(_snapshot(1))
    assert SnapshotStore(tmp_path, key=b"ours").newest() == (None, None)


def test_the_key_file_is_private_and_stable(tmp_path):
    key = snapshot_key(tmp_path, {})
    mode = stat.S_IMODE(os.stat(tmp_path / "snapshot.key").st_mode)
    assert mode == 0o600
    assert len(key) == 64
    assert snapshot_key(tmp_path, {}) == key
    assert snapshot_key(tmp_path, {"STREAMAL_SNAPSHOT_KEY": "from-env"}) == b"from-env"
    os.chmod(tmp_path / "snapshot.key", 0o644)
    with pytest.raises(SnapshotError, match="can be read by others"):
        snapshot_key(tmp_path, {})
