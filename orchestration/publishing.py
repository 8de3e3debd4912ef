"""Write, audit, publish: every write goes to a working copy of the warehouse file; only a build whose checks
all passed replaces the served file, atomically.

BI tools open the served file read-only. DuckDB allows one writing process or many reading processes,
never both, so nothing here ever opens the served file for writing: `leadscore load` stages raw data into
the working copy (made from the served file), `leadscore build` builds and tests there, and `publish` moves
the working copy onto the served path with one `os.replace` (atomic on POSIX within a folder). A reader
that had the old file open keeps reading the old, complete build; a new reader sees the new, complete build;
a build that fails its checks, or is killed, never replaces anything.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestration.settings import Settings


def working_path(settings: Settings) -> Path:
    """The working copy beside the served file (same folder, so the final rename is atomic)."""
    served = settings.warehouse_path
    return served.with_name(served.name + ".building")


@contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer at a time (load or build): an exclusive lock on a file beside the served one."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = settings.warehouse_path.with_name(settings.warehouse_path.name + ".lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_working_copy(settings: Settings) -> Path:
    """The working copy to write into: kept if one is pending (a load not yet built, or an interrupted build),
    else a fresh copy of the served file (so raw data and any state carry over), else a new file."""
    working = working_path(settings)
    if working.exists():
        return working
    served = settings.warehouse_path
    if served.exists():
        partial = working.with_name(working.name + ".partial")
        shutil.copyfile(served, partial)
        os.replace(partial, working)
    return working


def publish(settings: Settings) -> Path:
    """Atomically replace the served file with the audited working copy; return the served path."""
    working = working_path(settings)
    wal = working.with_name(working.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} exists: the working copy was not closed cleanly; not publishing it")
    with working.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(working, settings.warehouse_path)
    directory = os.open(settings.warehouse_path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return settings.warehouse_path
