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
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import duckdb

from orchestration.settings import RAW_SCHEMA, STAGING_PREFIX, Settings

# The schema where dbt stores the rows each data test failed on (store_failures): evidence for the build's
# error message, never served (dropped from the working copy before it is published).
TEST_FAILURES_SCHEMA = "dbt_test__audit"


# How long a writer waits for another process to close the working copy (a dbt child that is being killed
# with its parent) before saying who holds it: LEADSCORE_IN_USE_WAIT_SECONDS, default 10.
def in_use_wait_seconds() -> float:
    return float(os.environ.get("LEADSCORE_IN_USE_WAIT_SECONDS", "10"))


def working_path(settings: Settings) -> Path:
    """The working copy beside the served file (same folder, so the final rename is atomic)."""
    served = settings.warehouse_path
    return served.with_name(served.name + ".building")


def lock_path(settings: Settings) -> Path:
    """The writer lock file beside the served one; while locked it names its holder."""
    return settings.warehouse_path.with_name(settings.warehouse_path.name + ".lock")


@contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer at a time (load, build, a Dagster step): an exclusive lock on a file beside the served one.
    A writer that finds the lock taken says on stderr who holds it, then waits its turn (writers queue).
    Once the lock is held, what killed writers left behind is removed (sweep_leftovers)."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(settings)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text().strip() or "another writer"
            print(f"waiting for the warehouse writer lock, held by {holder} ({path})", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            _write_holder(handle)
            sweep_leftovers(settings)
            yield
        finally:
            handle.truncate(0)
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_holder(handle: IO[str]) -> None:
    """Name this process in the lock file (what a waiting writer prints)."""
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    handle.truncate(0)
    handle.write(f"PID {os.getpid()} ({command}, since {started})")
    handle.flush()


# ----------------------------------------------------------------------------------------------------------
# Leftovers of killed processes
# ----------------------------------------------------------------------------------------------------------


def scratch_root(settings: Settings) -> Path:
    """Where leadscore keeps temporary folders, beside the served file (same disk as the warehouse)."""
    return settings.warehouse_path.with_name(settings.warehouse_path.name + ".scratch")


@contextmanager
def scratch_dir(settings: Settings, purpose: str) -> Iterator[Path]:
    """A temporary folder named after this process, removed on exit; one left by a killed process (its PID
    no longer running) is removed by the next one that asks for a folder or takes the writer lock."""
    root = scratch_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    _sweep_scratch(root)
    folder = Path(tempfile.mkdtemp(prefix=f"{purpose}-{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with suppress(OSError):
            root.rmdir()  # only when empty


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_SCRATCH_OWNER = re.compile(r"-(\d+)-[^-]*$")


def _sweep_scratch(root: Path) -> None:
    """Remove the scratch folders whose process is gone."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        owner = _SCRATCH_OWNER.search(folder.name)
        if owner is None or not _pid_alive(int(owner.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def sweep_leftovers(settings: Settings) -> None:
    """What a killed writer leaves beside the working copy: a half-copied `.partial` file, DuckDB's spill
    folder (`.tmp`, can be tens of GB), scratch folders of dead processes. Call with the writer lock held."""
    working = working_path(settings)
    working.with_name(working.name + ".partial").unlink(missing_ok=True)
    shutil.rmtree(working.with_name(working.name + ".tmp"), ignore_errors=True)
    _sweep_scratch(scratch_root(settings))


# ----------------------------------------------------------------------------------------------------------
# A warehouse file held by another process
# ----------------------------------------------------------------------------------------------------------


class WarehouseInUseError(RuntimeError):
    """Another process has the warehouse file open; the message names the file and the process."""


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def lock_conflict(exc: BaseException) -> str | None:
    """For a DuckDB error caused by another process's lock on the file: a plain description of that
    process (PID and command line); None for any other error."""
    text = str(exc)
    if "Could not set lock on file" not in text:
        return None
    match = _LOCK_HOLDER.search(text)
    if match is None:
        return "another process"
    pid = int(match.group("pid"))
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = match.group("program")
    command = " ".join(command.split())  # one line, whatever the arguments hold
    return f"PID {pid} ({command[:200]}{'...' if len(command) > 200 else ''})"


def in_use_error(path: Path, holder: str) -> WarehouseInUseError:
    return WarehouseInUseError(
        f"{path} is in use by another process: {holder}. DuckDB lets one process at a time write a "
        "file: wait for that process to finish, or stop it, then run again"
    )


def ensure_not_in_use(path: Path, wait_seconds: float | None = None) -> None:
    """Raise WarehouseInUseError, naming the holder, when another process keeps the file locked for longer
    than wait_seconds (default in_use_wait_seconds(); a process dying with its parent releases it sooner)."""
    deadline = time.monotonic() + (in_use_wait_seconds() if wait_seconds is None else wait_seconds)
    while path.exists():
        try:
            duckdb.connect(str(path), read_only=True).close()
            return
        except duckdb.IOException as exc:
            holder = lock_conflict(exc)
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                raise in_use_error(path, holder) from exc
            time.sleep(0.2)


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
    ensure_not_in_use(working)
    if working.exists() and dirty_marker(settings).exists():
        _reset_keeping_raw_layer(settings)
    if working.exists():
        drop_staging_tables(working)
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
        con.execute(f"ATTACH '{quoted_path(partial)}' AS fresh")
        con.execute(f"ATTACH '{quoted_path(working)}' AS pending (READ_ONLY)")
        # The raw layer only: a killed load's staging tables (raw._loading_*) are not carried.
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = 'pending' and schema_name = ?",
                [RAW_SCHEMA],
            ).fetchall()
            if not name.startswith(STAGING_PREFIX)
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


def staging_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The staging tables (raw._loading_*) in the connection's current database."""
    return [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database()"
            " and schema_name = ? and starts_with(table_name, ?)",
            [RAW_SCHEMA, STAGING_PREFIX],
        ).fetchall()
    ]


def drop_staging_tables(working: Path) -> None:
    """Drop the staging tables a killed `leadscore load` left in the working copy (rows of an export that
    was never loaded, emails included): nothing of them may reach a publish."""
    with duckdb.connect(str(working), read_only=True) as con:
        leftovers = staging_tables(con)
    if leftovers:
        with duckdb.connect(str(working)) as con:
            for name in leftovers:
                con.execute(f'drop table if exists "{RAW_SCHEMA}"."{name}"')


def drop_test_failures(working: Path) -> None:
    """Drop the tables of the rows dbt tests failed on (all empty in a build that passed) from the working
    copy before it is published: test evidence is not what BI tools read."""
    with duckdb.connect(str(working)) as con:
        con.execute(f'drop schema if exists "{TEST_FAILURES_SCHEMA}" cascade')


def quoted_path(path: Path) -> str:
    """A file path for a SQL string literal (quotes doubled)."""
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
