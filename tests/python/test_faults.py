"""Faults: real `leadscore` processes killed with SIGKILL (the leadscore PID alone, and its whole process group),
a warehouse file held by another process, two writers at once. After each, nothing of the killed run reaches a
later publish, nothing is left behind, and the next command either works or says in one line what is wrong.

Each case starts from the golden export's published build (conftest, restored from a snapshot) and runs the
installed `leadscore` console script against real DuckDB files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import RAW_CONTRACT

from conftest import CliRunner, Project, Published, pipeline_db
from golden_data import AS_OF, write_export

EXECUTABLE = Path(sys.executable).with_name("leadscore")
MB = 1024 * 1024


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process from /proc, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def running(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in "ZX"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None and stat[1] == pid:
                found.append(int(entry.name))
    return found


def open_files(pid: int) -> set[str]:
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    files = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            files.add(os.readlink(fd))
    return files


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start(project: Project, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`leadscore ARGS` in its own process group (so the group can be killed without killing pytest)."""
    return subprocess.Popen(
        [str(EXECUTABLE), *args],
        env=env or project.env(),
        cwd=project.dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill(process: subprocess.Popen[str], how: str) -> None:
    """SIGKILL the leadscore process alone ("pid") or its whole process group ("group")."""
    if how == "pid":
        os.kill(process.pid, signal.SIGKILL)
    else:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def scratch_leftovers(warehouse: Path) -> list[str]:
    """Files beside the served warehouse that only a running or killed writer should have."""
    names = {p.name for p in warehouse.parent.iterdir()}
    stray = {
        f"{warehouse.name}.publishing",
        f"{warehouse.name}.publishing.wal",
        f"{warehouse.name}.publishing.tmp",
        f"{pipeline_db(warehouse).name}.tmp",
        f"{warehouse.name}.scratch",
    }
    return sorted(names & stray)


def served_snapshot(path: Path) -> tuple[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return digest(path), con.execute("select lead_id from marts.lead_scores order by 1").fetchall()


def schemas_and_tables(path: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return set(con.execute("select schema_name, table_name from duckdb_tables()").fetchall())


# ----------------------------------------------------------------------------------------------------------
# Kills of `leadscore build`: its dbt child dies with it, the next build runs and publishes.
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["pid", "group"])
def test_a_killed_build_takes_its_dbt_child_with_it(
    project: Project, leadscore: CliRunner, golden_published: Published, how: str
):
    served = golden_published.warehouse
    before = served_snapshot(served)
    build = start(project, "build", "--as-of", "2026-11-21")
    dbt = wait_for(
        lambda: next(
            (c for c in children(build.pid) if " build " in command_line(c) and "dbt" in command_line(c)),
            None,
        ),
        60,
        "the dbt child of leadscore build",
    )
    time.sleep(1.5)  # dbt has the pipeline database open and is writing it
    assert running(dbt)
    kill(build, how)
    try:
        wait_for(lambda: not running(dbt), 5, f"dbt (PID {dbt}) to die with leadscore (killed: {how})")
    finally:
        if running(dbt):  # an orphan would write into the next test's project copy
            os.kill(dbt, signal.SIGKILL)
    assert served_snapshot(served) == before, "a killed build changed the served file"

    after = leadscore("build", "--as-of", "2026-11-21", check=False)
    assert after.returncode == 0, after.stderr
    assert "Traceback" not in after.stderr
    assert after.stdout.strip().endswith(f"published: {served}")
    # The killed dbt may have left incremental models half-way: the next build rebuilds them.
    assert "the last build was not published (failed or killed): incremental models rebuilt" in after.stdout
    assert scratch_leftovers(served) == []


# ----------------------------------------------------------------------------------------------------------
# Kills of `leadscore load`: the staged rows of the export it did not finish never reach a publish.
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export whose leads (60,000, with emails) stage in a moment and whose events (2 M rows) take seconds:
    a kill while the events are read finds the leads staged in the pipeline database."""
    folder = tmp_path_factory.mktemp("big-export")
    with (folder / "leads.csv").open("w") as out:
        out.write(",".join(RAW_CONTRACT["leads"]) + "\n")
        out.writelines(
            f"K{i},k{i}@leak.example,Leak {i},retail,10,1000,FR,,web,2025-01-01,lead,\n"
            for i in range(60_000)
        )
    with (folder / "events.csv").open("w") as out:
        out.write("event_id,lead_id,event_type,occurred_at,properties\n")
        row = ',page_view,2025-06-01T10:00:00Z,"{""url"": ""/a-fairly-long-page-address/to-make-the-file-big""}"\n'
        out.writelines(f"KE{i},K{i % 60_000}{row}" for i in range(2_000_000))
    (folder / "orders.csv").write_text(
        "order_id,lead_id,ordered_at,amount,currency,status\nKO1,K1,2025-02-01,10,EUR,completed\n"
    )
    return folder


@pytest.mark.parametrize(
    ("how", "delay"),
    [("pid", 0.0), ("group", 0.0), ("pid", 1.0), ("group", 1.0)],
    ids=["pid-during-scan", "group-during-scan", "pid-during-read", "group-during-read"],
)
def test_a_killed_load_leaves_nothing_a_later_build_publishes(
    tmp_path: Path,
    project: Project,
    leadscore: CliRunner,
    golden_published: Published,
    big_export: Path,
    how: str,
    delay: float,
):
    served = golden_published.warehouse
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    env = {**project.env(), "TMPDIR": str(temp)}
    load = start(project, "load", str(big_export), env=env)
    events = str(big_export / "events.csv")
    wait_for(lambda: events in open_files(load.pid), 60, "leadscore load to read events.csv")
    time.sleep(delay)
    assert load.poll() is None, "the load ended before it could be killed"
    kill(load, how)

    built = leadscore("build", "--as-of", AS_OF, check=False)
    assert built.returncode == 0, built.stderr
    tables = schemas_and_tables(served)
    assert not [t for t in tables if t[1].startswith("_loading_")], tables
    with duckdb.connect(str(served), read_only=True) as con:
        con.execute(f"attach '{pipeline_db(served)}' as pipeline (read_only)")
        leaked = con.execute(
            "select count(*) from pipeline.raw.leads where lead_id like 'K%'"
            " union all select count(*) from marts.lead_scores where lead_id like 'K%'"
        ).fetchall()
    assert leaked == [(0,), (0,)], "rows of the killed load were published"
    assert list(temp.iterdir()) == [], "the killed load left temporary files"
    assert scratch_leftovers(served) == []


# ----------------------------------------------------------------------------------------------------------
# A warehouse file held by another process; two writers at once.
# ----------------------------------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize(
    ("command", "held"),
    [
        (("build", "--as-of", AS_OF), "building"),
        (("load", "EXPORT"), "building"),
        (("top", "3"), "served"),
    ],
    ids=["build-pipeline-db-held", "load-pipeline-db-held", "top-served-file-held"],
)
def test_a_file_held_by_another_process_is_named_in_one_line(
    tmp_path: Path,
    project: Project,
    leadscore: CliRunner,
    golden_published: Published,
    command: tuple[str, ...],
    held: str,
):
    """Another process (a DuckDB client opened for writing, or a dbt left over by an older version) has the file:
    the command says which process, in one line, and exits 1; never a traceback."""
    served = golden_published.warehouse
    path = pipeline_db(served) if held == "building" else served
    if held == "building":
        leadscore("load", str(write_export(tmp_path / "export")))  # a pipeline database to hold
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        args = [str(write_export(tmp_path / "export2")) if a == "EXPORT" else a for a in command]
        env = {**project.env(), "LEADSCORE_IN_USE_WAIT_SECONDS": "1"}
        completed = subprocess.run(
            [str(EXECUTABLE), *args], env=env, cwd=project.dir, capture_output=True, text=True, check=False
        )
    finally:
        holder.kill()
        holder.wait()
    assert completed.returncode == 1, completed
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert f"PID {holder.pid}" in lines[0] and str(path) in lines[0], lines[0]
    assert lines[0].startswith(f"{command[0]} failed:")


def test_a_second_writer_waits_and_says_for_whom(project: Project, golden_published: Published):
    first = start(project, "build", "--as-of", "2026-11-21")
    lock = golden_published.warehouse.with_name(golden_published.warehouse.name + ".lock")
    wait_for(lambda: f"PID {first.pid}" in lock.read_text(), 60, "the first build to hold the writer lock")
    second = start(project, "build", "--as-of", "2026-11-21")
    out_second, err_second = second.communicate(timeout=600)
    out_first, err_first = first.communicate(timeout=600)
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    assert f"waiting for the warehouse writer lock, held by PID {first.pid} (leadscore build" in err_second
    assert out_second.strip().endswith(f"published: {golden_published.warehouse}")


# ----------------------------------------------------------------------------------------------------------
# What every run leaves: no test-failure tables served, logs capped.
# ----------------------------------------------------------------------------------------------------------


def test_the_served_file_has_no_test_failure_tables_and_logs_stay_capped(
    project: Project, leadscore: CliRunner, golden_published: Published
):
    leadscore("build", "--as-of", "2026-11-21")
    leadscore("build", "--as-of", "2026-11-21", "--full-refresh")
    tables = schemas_and_tables(golden_published.warehouse)
    schemas = {schema for schema, _ in tables}
    assert "dbt_test__audit" not in schemas, schemas
    assert {"marts", "history", "audit"} <= schemas
    assert not {"raw", "staging"} & schemas, schemas
    assert {t for t in tables if t[0] == "intermediate"} == {("intermediate", "int_backtest_observations")}
    logs = sorted((project.dir / "logs").glob("dbt.log*"))
    sizes = {log.name: log.stat().st_size for log in logs}
    assert len(logs) >= 2, f"three builds did not rotate the dbt log: {sizes}"
    assert len(logs) <= 6 and max(sizes.values()) <= 2 * MB, sizes
