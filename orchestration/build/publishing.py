"""Write, audit, publish with two DuckDB files: the pipeline's own database and the small file BI reads.

* **The pipeline database** (`<name>.pipeline.duckdb` beside the served `<name>.duckdb`, pipeline_path) holds
  everything `leadscore load` and dbt write: the raw layer, staging views, intermediate and incremental state,
  the marts, the score history, the stored test failures and the audit trail. It is the file dbt works in,
  written in place (never copied per build), and no BI tool opens it: it holds every raw email.
* **The served file** (LEADSCORE_DUCKDB_PATH) holds only what BI reads (SERVED_SCHEMAS): the marts (rejected
  rows name file and line, never a raw row's fields), the score history, the point tables and the audit
  trail of published runs. Nothing ever opens it for writing: a publish EXPORTS those relations from the
  pipeline database, with their table and column comments, into a new file `<served>.publishing` and moves
  it onto the served path with one `os.replace` (atomic on POSIX within a folder). A reader that had the old
  file open keeps reading the old, complete build; a new reader sees the new, complete build. What a publish
  writes is the size of the marts and the history, not of the raw data.

A build that fails its checks, or is killed, publishes nothing; it leaves its outputs in the pipeline
database, marked by the dirty marker (removed only by a publish). The next build then (start_build):

1. restores the served state the pipeline continues from (RESTORED_SCHEMAS: the score history, the CRM change
   log and the audit of published runs) from the served file, so no row of the unpublished build (history
   rows, a recorded run) is ever carried into a later publish;
2. rebuilds every incremental model from the raw layer (dbt --full-refresh; the history models are never
   rebuilt, they were restored), because a killed dbt may have left an incremental model half-way; a
   rebuild costs one full build, once, after a failure.

The raw layer is not an output of a build: a load writes it straight into the pipeline database (staged in
`raw._loading_*` tables and swapped in all or nothing), and it stays there whatever the next build does.
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
from orchestration.warehouse import connect_read_only, connect_writer, quote_ident, quote_literal

# The schema where dbt stores the rows each data test failed on (store_failures): evidence for the build's
# error message, kept in the pipeline database, never served.
TEST_FAILURES_SCHEMA = "dbt_test__audit"

# What the served file holds: every table and view of these schemas of the pipeline database (views are
# served as tables: the served file has nothing they could read from). Everything else (raw, staging,
# intermediate, the test failures) stays in the pipeline database.
SERVED_SCHEMAS: tuple[str, ...] = ("marts", "history", "point_tables", "audit")
# And these relations of other schemas, under the same names: the lead x score date pairs a backtest measured
# (no personal field), which the semantic layer's conversion rate is defined on (`mf query` on the served
# file, docs/bi.md).
SERVED_RELATIONS: tuple[str, ...] = ("intermediate.int_backtest_observations",)

# The served state a build continues from (incremental, never rebuilt): restored from the served file into the
# pipeline database after a build that was not published, so that none of its rows is ever published later.
RESTORED_SCHEMAS: tuple[str, ...] = ("history", "audit")


# How long a writer waits for another process to close the pipeline database (a dbt child that is being
# killed with its parent) before saying who holds it: LEADSCORE_IN_USE_WAIT_SECONDS, default 10.
def in_use_wait_seconds() -> float:
    return float(os.environ.get("LEADSCORE_IN_USE_WAIT_SECONDS", "10"))


def pipeline_path(settings: Settings) -> Path:
    """The pipeline's own database beside the served file: leadscore.duckdb -> leadscore.pipeline.duckdb."""
    served = settings.warehouse_path
    return served.with_name(f"{served.stem}.pipeline{served.suffix or '.duckdb'}")


def publishing_path(settings: Settings) -> Path:
    """The new served file while a publish writes it (same folder, so the final rename is atomic)."""
    served = settings.warehouse_path
    return served.with_name(served.name + ".publishing")


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


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
    """What a killed writer leaves: a half-written `.publishing` file (and its WAL), a half-copied pipeline
    database (`.partial`, when adopting the earlier layout), DuckDB's spill folders
    (`.tmp`, can be tens of GB), scratch folders of dead processes. Call with the writer lock held."""
    publishing = publishing_path(settings)
    for leftover in (publishing, _sibling(publishing, ".wal"), _sibling(pipeline_path(settings), ".partial")):
        leftover.unlink(missing_ok=True)
    for database in (pipeline_path(settings), publishing):
        shutil.rmtree(_sibling(database, ".tmp"), ignore_errors=True)
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
            connect_read_only(path).close()
            return
        except duckdb.IOException as exc:
            holder = lock_conflict(exc)
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                raise in_use_error(path, holder) from exc
            time.sleep(0.2)


def dirty_marker(settings: Settings) -> Path:
    """Exists while the pipeline database holds a build not yet published (running, failed or killed)."""
    return _sibling(pipeline_path(settings), ".dirty")


def demo_marker(settings: Settings) -> Path:
    """Exists while the pipeline database's raw layer is demo data Dagster loaded (RawSourceResource.demo);
    any other load removes it. Dagster loads demo data only into an empty warehouse or over demo data."""
    return _sibling(pipeline_path(settings), ".demo-data")


def rebuild_marker(settings: Settings) -> Path:
    """Exists from the start of a build that found an unpublished build's outputs (start_build) until a
    publish: every build until then rebuilds the incremental models (pipeline.plan_build)."""
    return _sibling(pipeline_path(settings), ".rebuild")


def must_rebuild(settings: Settings) -> bool:
    """Whether the next build must rebuild the incremental models (an unpublished build came before it)."""
    return rebuild_marker(settings).exists()


def prepare_pipeline(settings: Settings) -> Path:
    """The pipeline database to write into (created on first use), with the staging tables of a killed load
    dropped. A served file of the earlier layout (one file holding everything) becomes the pipeline database
    once: it is copied, and the next publish replaces it with a served file of the served relations only.
    A served file without its pipeline database (deleted, or the folder moved without it) gives a new one
    its score history and audit trail, so that the next publish keeps them."""
    pipeline = pipeline_path(settings)
    _clear_stages(settings)  # whoever writes next invalidates what the last build passed
    if not pipeline.exists():
        _adopt_earlier_layout(settings)
    if not pipeline.exists() and settings.warehouse_path.exists():
        restore_served_state(settings)
    ensure_not_in_use(pipeline)
    if pipeline.exists():
        drop_staging_tables(pipeline)
    return pipeline


def _adopt_earlier_layout(settings: Settings) -> None:
    """Before the pipeline database existed, a build wrote a `<served>.building` copy of the served file and
    published it whole: take a pending copy (its staged raw layer, dirty or not) or else the served file
    itself, when it holds a raw layer, as the pipeline database."""
    served, pipeline = settings.warehouse_path, pipeline_path(settings)
    building = _sibling(served, ".building")
    if building.exists():
        if _sibling(building, ".dirty").exists() or _sibling(building, ".wal").exists():
            dirty_marker(settings).touch()
        if _sibling(building, ".wal").exists():
            os.replace(_sibling(building, ".wal"), _sibling(pipeline, ".wal"))
        os.replace(building, pipeline)
        for suffix in (".dirty", ".built", ".audited", ".plan.json"):
            _sibling(building, suffix).unlink(missing_ok=True)
        return
    if served.exists() and _has_schema(served, RAW_SCHEMA):
        partial = _sibling(pipeline, ".partial")
        shutil.copyfile(served, partial)
        os.replace(partial, pipeline)


def _has_schema(path: Path, schema: str) -> bool:
    with connect_read_only(path) as con:
        return bool(
            con.execute(
                "select count(*) from duckdb_schemas() where database_name = current_database()"
                " and schema_name = ?",
                [schema],
            ).fetchone()[0]
        )


def start_build(settings: Settings) -> Path:
    """The pipeline database a build writes into, marked dirty until the build is published. After an
    unpublished build (the dirty marker still there), the served state is restored first and the build is
    marked to rebuild the incremental models (rebuild_marker)."""
    pipeline = prepare_pipeline(settings)
    if dirty_marker(settings).exists() and pipeline.exists():
        restore_served_state(settings)
        rebuild_marker(settings).touch()
    dirty_marker(settings).touch()
    return pipeline


STAGES = ("built", "audited")


def _stage_marker(settings: Settings, stage: str) -> Path:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    return _sibling(pipeline_path(settings), f".{stage}")


def mark_passed(settings: Settings, stage: str, build_id: str) -> None:
    """Record that the pipeline database's build passed a stage: `built` (dbt build, every dbt test) or
    `audited` (every quality expectation). Steps may run in different processes (Dagster), so this is a
    file."""
    _stage_marker(settings, stage).write_text(build_id)


def passed_build(settings: Settings, stage: str) -> str | None:
    """The build id that passed the stage in the pipeline database, if any."""
    marker = _stage_marker(settings, stage)
    return marker.read_text().strip() if marker.exists() else None


def build_plan_path(settings: Settings) -> Path:
    """What the pipeline database's build planned (pipeline.save_plan); cleared with the stage markers."""
    return _sibling(pipeline_path(settings), ".plan.json")


def _clear_stages(settings: Settings) -> None:
    for stage in STAGES:
        _stage_marker(settings, stage).unlink(missing_ok=True)
    build_plan_path(settings).unlink(missing_ok=True)


def restore_served_state(settings: Settings) -> None:
    """Replace the pipeline database's RESTORED_SCHEMAS by the served file's (dropped when nothing is
    served yet): an unpublished build's history rows and recorded runs are gone."""
    pipeline, served = pipeline_path(settings), settings.warehouse_path
    con = connect_writer(pipeline)
    try:
        for schema in RESTORED_SCHEMAS:
            con.execute(f'drop schema if exists "{schema}" cascade')
        if served.exists():
            con.execute(f"attach '{quoted_path(served)}' as served (read_only)")
            copy_relations(con, "served", _database_name(con), RESTORED_SCHEMAS)
    finally:
        con.close()


def _database_name(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchone()[0]


def copy_relations(
    con: duckdb.DuckDBPyConnection,
    source: str,
    target: str,
    schemas: tuple[str, ...],
    relations: tuple[str, ...] = (),
) -> list[str]:
    """Copy every table and view of the schemas, and the relations named schema.name, from the attached
    database source into target, as tables (a table keeps its DDL: column types, keys, not-null
    constraints) with their table and column comments. Returns the relations copied, schema.name."""
    copied = []
    found = con.execute(
        """
        select * from (
            select schema_name, table_name as name, sql, comment, false as is_view from duckdb_tables()
            where database_name = $db
            union all
            select schema_name, view_name, null, comment, true from duckdb_views()
            where database_name = $db and not internal
        )
        where list_contains($schemas, schema_name) or list_contains($relations, schema_name || '.' || name)
        order by 1, 2
        """,
        {"db": source, "schemas": list(schemas), "relations": list(relations)},
    ).fetchall()
    src, dst = quote_ident(source), quote_ident(target)
    for schema, name, ddl, comment, is_view in found:
        qualified = f"{quote_ident(schema)}.{quote_ident(name)}"
        con.execute(f"create schema if not exists {dst}.{quote_ident(schema)}")
        if is_view:
            con.execute(f"create table {dst}.{qualified} as select * from {src}.{qualified}")
        else:
            con.execute(f"use {dst}")
            con.execute(ddl)
            con.execute(f"insert into {dst}.{qualified} select * from {src}.{qualified}")
        if comment:
            con.execute(f"comment on table {dst}.{qualified} is {quote_literal(comment)}")
        for column, column_comment in con.execute(
            "select column_name, comment from duckdb_columns() where database_name = ? and schema_name = ?"
            " and table_name = ? and comment is not null",
            [source, schema, name],
        ).fetchall():
            column_name = quote_ident(column)
            con.execute(
                f"comment on column {dst}.{qualified}.{column_name} is {quote_literal(column_comment)}"
            )
        copied.append(f"{schema}.{name}")
    return copied


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


def drop_staging_tables(pipeline: Path) -> None:
    """Drop the staging tables a killed `leadscore load` left in the pipeline database (rows of an export
    that was never loaded): no build may read them."""
    with connect_read_only(pipeline) as con:
        leftovers = staging_tables(con)
    if leftovers:
        with connect_writer(pipeline) as con:
            for name in leftovers:
                con.execute(f'drop table if exists "{RAW_SCHEMA}"."{name}"')


def quoted_path(path: Path) -> str:
    """A file path for a SQL string literal (quotes doubled)."""
    return str(path).replace("'", "''")


class NotAuditedError(RuntimeError):
    """The pipeline database's build has not passed every stage: it must not be published."""


def ensure_passed(settings: Settings, build_id: str) -> None:
    """Raise NotAuditedError unless build_id passed every stage in the pipeline database."""
    for stage in STAGES:
        if passed_build(settings, stage) != build_id:
            raise NotAuditedError(
                f"build {build_id} has not passed the {stage} stage in {pipeline_path(settings)}: "
                "not publishing it"
            )


def export_served(pipeline: Path, destination: Path) -> list[str]:
    """Write a new DuckDB file holding the served relations of the pipeline database (SERVED_SCHEMAS,
    SERVED_RELATIONS); return them. The pipeline database is only read."""
    for leftover in (destination, _sibling(destination, ".wal")):
        leftover.unlink(missing_ok=True)
    con = connect_writer(destination)
    try:
        con.execute(f"set memory_limit = {quote_literal(os.environ.get('LEADSCORE_DUCKDB_MEMORY', '5GB'))}")
        con.execute(f"set temp_directory = {quote_literal(str(_sibling(destination, '.tmp')))}")
        con.execute(f"attach '{quoted_path(pipeline)}' as pipeline (read_only)")
        copied = copy_relations(con, "pipeline", _database_name(con), SERVED_SCHEMAS, SERVED_RELATIONS)
        con.execute("detach pipeline")
        con.execute("checkpoint")
    finally:
        con.close()
    shutil.rmtree(_sibling(destination, ".tmp"), ignore_errors=True)
    return copied


def publish(settings: Settings, build_id: str) -> Path:
    """Export the served relations of the audited build_id into a new file and move it atomically onto the
    served path; return the served path. Refuse unless that build passed both the dbt build and the audit."""
    ensure_passed(settings, build_id)
    staged = publishing_path(settings)
    export_served(pipeline_path(settings), staged)
    wal = _sibling(staged, ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} exists: {staged} was not closed cleanly; not publishing it")
    with staged.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(staged, settings.warehouse_path)
    directory = os.open(settings.warehouse_path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    _clear_stages(settings)
    rebuild_marker(settings).unlink(missing_ok=True)
    dirty_marker(settings).unlink(missing_ok=True)
    return settings.warehouse_path
