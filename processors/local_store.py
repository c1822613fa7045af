"""The worker's local table store (RocksDB under the data folder) is trusted only after a clean
stop.

After an unclean stop (SIGKILL, a crash of the machine) the local store is a cache of unknown
age: restarting from it and the changelog records after its last persisted offset has been seen
to leave blocks without rows the consumer had already passed (the chaos case "worker SIGKILL,
restarted with its data", 1 run in 4 before this). A clean stop marks the folder; a start
without the mark removes the local store, so that faust rebuilds the table from its changelog
(compacted: one record per block), as it does for a new worker. Kafka Streams treats its state
stores the same way after an unclean shutdown under exactly-once.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

CLEAN_STOP_MARK = "stopped-cleanly"
TABLES = "v1"
"""faust's folder of table stores under the app's data folder (`<datadir>/v1/tables/...`)."""


def claim(data_dir: Path) -> bool:
    """Take the data folder for a run: remove its table store unless the last run stopped
    cleanly, and clear the mark (a run that dies leaves none). True when the store was removed."""
    mark = data_dir / CLEAN_STOP_MARK
    tables = data_dir / TABLES
    removed = False
    if tables.exists() and not mark.exists():
        log.warning(
            "%s: the last run did not stop cleanly; its table store is removed and the "
            "table is rebuilt from its changelog",
            data_dir,
        )
        shutil.rmtree(tables)
        removed = True
    mark.unlink(missing_ok=True)
    return removed


def release(data_dir: Path) -> None:
    """Mark the data folder as stopped cleanly: faust has closed the table store."""
    if data_dir.is_dir():
        (data_dir / CLEAN_STOP_MARK).write_text("the table store was closed by its worker\n")
