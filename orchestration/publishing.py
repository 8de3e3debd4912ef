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

import duckdb

from orchestration.settings import RAW_SCHEMA, Settings


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


def dirty_marker(settings: Settings) -> Path:
    """Exists while the working copy holds a build not yet published (running, failed or killed)."""
    working = working_path(settings)
    return working.with_name(working.name + ".dirty")


def prepare_working_copy(settings: Settings) -> Path:
    """The working copy to write into. A pending copy that only holds a staged raw layer (`leadscore load`)
    is kept. A copy that a build touched without publishing (failed checks, killed) is rebuilt as the
    served file plus that copy's raw layer, so no state from an unpublished build (score history rows,
    tables) ever reaches a later publish. Without a pending copy: a fresh copy of the served file (so raw
    data, history and the audit trail carry over), else a new file."""
    working = working_path(settings)
    _clear_stages(settings)  # whoever writes next invalidates what the last build passed
    if working.exists() and dirty_marker(settings).exists():
        _reset_keeping_raw_layer(settings)
    if working.exists():
        return working
    served = settings.warehouse_path
    if served.exists():
        partial = working.with_name(working.name + ".partial")
        shutil.copyfile(served, partial)
        os.replace(partial, working)
    return working


def start_build(settings: Settings) -> Path:
    """The working copy a build writes into, marked dirty until it is published."""
    working = prepare_working_copy(settings)
    dirty_marker(settings).touch()
    return working


STAGES = ("built", "audited")


def _stage_marker(settings: Settings, stage: str) -> Path:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    working = working_path(settings)
    return working.with_name(f"{working.name}.{stage}")


def mark_passed(settings: Settings, stage: str, build_id: str) -> None:
    """Record that the working copy's build passed a stage: `built` (dbt build, every dbt test) or `audited`
    (every quality expectation). Steps may run in different processes (Dagster), so this is a file."""
    _stage_marker(settings, stage).write_text(build_id)


def passed_build(settings: Settings, stage: str) -> str | None:
    """The build id that passed the stage in the working copy, if any."""
    marker = _stage_marker(settings, stage)
    return marker.read_text().strip() if marker.exists() else None


def build_plan_path(settings: Settings) -> Path:
    """What the working copy's build planned (pipeline.save_plan); cleared with the stage markers."""
    working = working_path(settings)
    return working.with_name(f"{working.name}.plan.json")


def _clear_stages(settings: Settings) -> None:
    for stage in STAGES:
        _stage_marker(settings, stage).unlink(missing_ok=True)
    build_plan_path(settings).unlink(missing_ok=True)


def _reset_keeping_raw_layer(settings: Settings) -> None:
    """Replace a dirty working copy by a copy of the served file with the dirty copy's raw tables."""
    working, served = working_path(settings), settings.warehouse_path
    partial = working.with_name(working.name + ".partial")
    partial.unlink(missing_ok=True)
    if served.exists():
        shutil.copyfile(served, partial)
    con = duckdb.connect()
    try:
        # A killed build may have left a WAL: a read-only attach replays it in memory, never on disk.
        con.execute(f"ATTACH '{_quoted(partial)}' AS fresh")
        con.execute(f"ATTACH '{_quoted(working)}' AS pending (READ_ONLY)")
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = 'pending' and schema_name = ?",
                [RAW_SCHEMA],
            ).fetchall()
        ]
        con.execute(f'create schema if not exists fresh."{RAW_SCHEMA}"')
        for table in tables:
            con.execute(
                f'create or replace table fresh."{RAW_SCHEMA}"."{table}"'
                f' as select * from pending."{RAW_SCHEMA}"."{table}"'
            )
    finally:
        con.close()
    # The old copy's WAL must not be replayed onto the new file.
    working.with_name(working.name + ".wal").unlink(missing_ok=True)
    os.replace(partial, working)
    dirty_marker(settings).unlink(missing_ok=True)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


class NotAuditedError(RuntimeError):
    """The working copy's build has not passed every stage: it must not be published."""


def ensure_passed(settings: Settings, build_id: str) -> None:
    """Raise NotAuditedError unless build_id passed every stage in the working copy."""
    for stage in STAGES:
        if passed_build(settings, stage) != build_id:
            raise NotAuditedError(
                f"build {build_id} has not passed the {stage} stage in {working_path(settings)}: "
                "not publishing it"
            )


def publish(settings: Settings, build_id: str) -> Path:
    """Atomically replace the served file with the audited working copy of build_id; return the served path.
    Refuse unless that build passed both the dbt build and the audit."""
    ensure_passed(settings, build_id)
    working = working_path(settings)
    wal = working.with_name(working.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} exists: the working copy was not closed cleanly; not publishing it")
    with working.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(working, settings.warehouse_path)
    _clear_stages(settings)
    dirty_marker(settings).unlink(missing_ok=True)
    directory = os.open(settings.warehouse_path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return settings.warehouse_path
