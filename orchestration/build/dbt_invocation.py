"""Run dbt as a subprocess against the project, with the warehouse path and vars set.

A subprocess (not dbtRunner in-process) so that dbt's DuckDB connection is closed when it returns, the
caller can open the warehouse file itself, and a killed build cannot leave handles behind in the caller.

The dbt process dies with the process that started it, however that one ends: it is started through a small
launcher that asks Linux for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG, kept across exec), so
`kill -9` of `leadscore build` alone never leaves a dbt child writing the pipeline database and holding its
lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from orchestration.progress import dbt_progress_line, report
from orchestration.settings import Settings, spark_dir
from orchestration.warehouse import connect_read_only

FAILED_STATUSES = {"fail", "error", "runtime error"}


@dataclass
class TestFailure:
    """A dbt node (test, unit test, model, seed) that failed, with the first rows a failed test returned."""

    name: str
    status: str
    message: str
    failing_rows: list[dict[str, Any]] = field(default_factory=list)
    # The seeds (point tables) a failed test reads, from the manifest: a test that checks one seed against
    # another (a relationship) fails on an edit of either.
    seeds: list[str] = field(default_factory=list)


@dataclass
class DbtResult:
    """What a dbt invocation did."""

    success: bool
    failures: list[TestFailure]
    output: str


def dbt_executable() -> str:
    """The dbt console script installed beside the running Python."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


# Run as `python -c DIE_WITH_PARENT <parent pid> <program> <args...>`: ask for SIGKILL when the parent dies,
# give up if the parent is already gone (it may die between fork and prctl), then become the program.
DIE_WITH_PARENT = """
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
    sys.exit("prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def dying_with_this_process(command: Sequence[str]) -> list[str]:
    """The command, wrapped so that its process is killed when this one dies (Linux only; elsewhere the
    command as is)."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", DIE_WITH_PARENT, str(os.getpid()), *command]


# dbt rotates its log file (logs/dbt.log) at this size and keeps 5 rotated files: at most 6 files, 12 MiB,
# the last few builds. A build writes one to a few MiB of debug lines (every statement); dbt's own default,
# 10 MiB a file, lets the folder reach 60 MiB. DBT_LOG_FILE_MAX_BYTES in the environment wins.
DBT_LOG_FILE_MAX_BYTES = str(2 * 1024 * 1024)


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The environment dbt runs with: the warehouse path and the project's profiles."""
    env = dict(os.environ)
    env["LEADSCORE_DUCKDB_PATH"] = str(settings.warehouse_path)
    env["LEADSCORE_SPARK_DIR"] = str(spark_dir(settings.warehouse_path))
    env["DBT_PROFILES_DIR"] = str(settings.project_dir)
    for name in BUILD_PARAMETERS:  # only the caller's own build parameters reach dbt
        env.pop(f"LEADSCORE_BUILD_{name.upper()}", None)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DBT_LOG_FILE_MAX_BYTES", DBT_LOG_FILE_MAX_BYTES)
    return env


# Vars that change every build. They reach dbt as environment variables LEADSCORE_BUILD_<NAME>, read by macro
# build_parameter only while executing: new --vars make dbt re-parse the whole project (cost: BENCHMARKS.md).
BUILD_PARAMETERS = ("as_of", "build_id", "scoring_version", "patch_base_build_id", "patch_since")


def split_build_parameters(dbt_vars: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment variables carrying the build parameters of dbt_vars, and the other vars."""
    env, rest = {}, {}
    for name, value in (dbt_vars or {}).items():
        if name in BUILD_PARAMETERS:
            env[f"LEADSCORE_BUILD_{name.upper()}"] = str(value)
        else:
            rest[name] = value
    return env, rest


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    dbt_vars: Mapping[str, Any] | None = None,
    target: str | None = None,
    target_path: Path | None = None,
) -> DbtResult:
    """Run `dbt <args>` on the project; return success, every failed node, and dbt's output."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    target_path = target_path or Path(os.environ.get("DBT_TARGET_PATH", settings.project_dir / "target"))
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(settings.project_dir),
        "--target-path",
        str(target_path),
    ]
    parameter_env, other_vars = split_build_parameters(dbt_vars)
    if other_vars:
        command += ["--vars", json.dumps(other_vars)]
    if target:
        command += ["--target", target]
    run_results = target_path / "run_results.json"
    run_results.unlink(missing_ok=True)
    returncode, output = _run_streaming(
        dying_with_this_process(command),
        cwd=settings.project_dir,
        env={**dbt_environment(settings), **parameter_env, "PYTHONUNBUFFERED": "1"},
    )
    failures = read_failures(run_results, settings.warehouse_path)
    return DbtResult(success=returncode == 0, failures=failures, output=output)


def _run_streaming(command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
    """Run dbt, reading its output line by line as it comes: each node dbt starts is reported as progress
    (orchestration.progress) while it runs; the whole output is returned for the summary and the errors."""
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
            for line in process.stdout:
                lines.append(line)
                shown = dbt_progress_line(line)
                if shown is not None:
                    report(shown)
            returncode = process.wait()
        except BaseException:
            process.kill()  # as subprocess.run does: never leave dbt running when this process gives up
            raise
    return returncode, "".join(lines)


def read_failures(run_results: Path, warehouse_path: Path) -> list[TestFailure]:
    """Every failed node of a dbt run_results.json, with the rows failed tests stored in warehouse_path."""
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text())["results"]
    seeds_of = tested_seeds(run_results.with_name("manifest.json"))
    failures = []
    for result in results:
        if str(result.get("status", "")).lower() not in FAILED_STATUSES:
            continue
        unique_id = result["unique_id"]
        failures.append(
            TestFailure(
                name=unique_id.split(".", 2)[-1],
                status=str(result["status"]).lower(),
                message=(result.get("message") or "").strip(),
                failing_rows=_failing_rows(result.get("relation_name"), warehouse_path)
                if unique_id.startswith("test.")
                else [],
                seeds=seeds_of.get(unique_id, []),
            )
        )
    return failures


def tested_seeds(manifest: Path) -> dict[str, list[str]]:
    """The seeds each test of the manifest depends on, by test unique id (empty when there is no manifest)."""
    if not manifest.exists():
        return {}
    seeds: dict[str, list[str]] = {}
    for unique_id, node in json.loads(manifest.read_text()).get("nodes", {}).items():
        if unique_id.startswith("test."):
            # The seed the test is defined on first, then the seeds it checks it against.
            attached = node.get("attached_node") or ""
            depends_on = sorted(node.get("depends_on", {}).get("nodes", []), key=lambda dep: dep != attached)
            seeds[unique_id] = [dep.split(".")[-1] for dep in depends_on if dep.startswith("seed.")]
    return seeds


def _failing_rows(relation: str | None, warehouse_path: Path) -> list[dict[str, Any]]:
    """The first rows a failed data test stored in its audit table (tests store their failures)."""
    if not relation or not warehouse_path.exists():
        return []
    try:
        with connect_read_only(warehouse_path) as con:
            cursor = con.execute(f"select * from {relation} limit 5")
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error:
        return []
