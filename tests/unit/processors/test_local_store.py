"""The local table store survives only a clean stop: after an unclean one it is removed, so
that the table is rebuilt from its changelog."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from processors import local_store

pytestmark = pytest.mark.unit


def _store(data_dir: Path) -> Path:
    db = data_dir / "v1" / "tables" / "blocks-0.db"
    db.mkdir(parents=True)
    (db / "000001.log").write_bytes(b"rows")
    return db


def test_a_new_folder_has_nothing_to_remove(tmp_path: Path) -> None:
    assert local_store.claim(tmp_path / "w") is False


def test_after_a_clean_stop_the_store_is_kept(tmp_path: Path) -> None:
    db = _store(tmp_path)
    local_store.release(tmp_path)
    assert local_store.claim(tmp_path) is False
    assert (db / "000001.log").read_bytes() == b"rows"
    # The mark is spent: a run that now dies without releasing leaves none.
    assert not (tmp_path / local_store.CLEAN_STOP_MARK).exists()


def test_after_an_unclean_stop_the_store_is_removed_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _store(tmp_path)
    local_store.release(tmp_path)
    local_store.claim(tmp_path)  # this run is killed: no release
    with caplog.at_level(logging.WARNING, logger="processors.local_store"):
        assert local_store.claim(tmp_path) is True
    assert not (tmp_path / "v1").exists()
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path}: the last run did not stop cleanly; its table store is removed and the "
        "table is rebuilt from its changelog"
    ]
