"""The same project on PostgreSQL and on Spark gives the same scores as on DuckDB, row for row.

One set of demo data (400 leads, with bad rows) is loaded and built with the real `leadscore` CLI on DuckDB,
then on a PostgreSQL server started for the test (and stopped after), then on Spark (pyspark in local mode,
dbt-spark's session method). lead_scores and lead_score_breakdown must match DuckDB's row for row: text,
booleans, dates, timestamps and decimals exactly, doubles within 1e-9. Every workspace scores with the point
tables of rule_seeds (event rules narrowed by a url pattern, a type whose other events no rule takes,
quintile RFM bands beside fixed recency bands), so each engine runs those paths as well as the default ones.
Each engine's build time is printed (`pytest -s`). The Spark test is marked `spark`: `make test` runs it with the others, `make test-spark` alone;
it also builds once more with a failing expectation and checks that the served views still read the first
build (PostgreSQL's write-audit-publish has its own test file, test_engine_publishing.py).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from engine_servers import PostgresServer, postgres_server

from orchestration.ingest.engines import Target, connection, resolve_target
from orchestration.settings import Settings

from conftest import copy_project
from rule_seeds import narrow_event_rules, use_quantile_rfm_bands

END_DATE = "2026-10-31"
LEADS = "400"
FLOAT_TOLERANCE = 1e-9
COMPARED = {
    "lead_scores": "lead_id",
    "lead_score_breakdown": "breakdown_id",
    "rejected_rows": "rejected_row_id",
}
NOT_COMPARED = {"build_id", "loaded_at"}  # differ by construction: a build id each, a load time each


class Workspace:
    """A project copy, its DuckDB warehouse and the environment the CLI runs with."""

    def __init__(self, root: Path, extra_env: dict[str, str] | None = None) -> None:
        self.dir = copy_project(root / "project")
        narrow_event_rules(self.dir / "seeds")
        use_quantile_rfm_bands(self.dir / "seeds")
        self.warehouse = root / "warehouse" / "leadscore.duckdb"
        self.extra_env = extra_env or {}

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DBT_PROJECT_DIR=str(self.dir),
            DBT_PROFILES_DIR=str(self.dir),
            LEADSCORE_DUCKDB_PATH=str(self.warehouse),
            DBT_TARGET_PATH=str(self.dir / "target"),
        )
        env.update(self.extra_env)
        return env

    def leadscore(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        executable = Path(sys.executable).with_name("leadscore")
        completed = subprocess.run(
            [str(executable), *args],
            env=self.env(),
            cwd=self.dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"leadscore {' '.join(args)} exited {completed.returncode}\n"
                f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr[-6000:]}"
            )
        return completed

    def target(self, name: str) -> Target:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in self.env().items():
                patch.setenv(key, value)
            settings = Settings(project_dir=self.dir, warehouse_path=self.warehouse)
            return resolve_target(settings, name)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engines") / "demo"
    ws = Workspace(tmp_path_factory.mktemp("generator"))
    ws.leadscore(
        "demo-data", "--leads", LEADS, "--seed", "11", "--out", str(out), "--end-date", END_DATE,
        "--bad-rows", "0.01", "--format", "csv",
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def duckdb_marts(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> dict[str, dict[str, dict]]:
    """The reference: the marts built on DuckDB (the default target)."""
    ws = Workspace(tmp_path_factory.mktemp("duckdb"))
    ws.leadscore("load", str(demo_dir))
    seconds = _timed(lambda: ws.leadscore("build", "--as-of", END_DATE))
    print(f"\nDuckDB build of {LEADS} leads: {seconds:.1f} s")
    with duckdb.connect(str(ws.warehouse), read_only=True) as con:
        marts = {}
        for table, key in COMPARED.items():
            cursor = con.execute(f"select * from marts.{table}")
            names = [d[0] for d in cursor.description]
            marts[table] = _keyed([dict(zip(names, row, strict=True)) for row in cursor.fetchall()], key)
    top = json.loads(ws.leadscore("top", "10", "--format", "json").stdout)
    return {**marts, "top": {"rows": {"rows": top}}}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def test_postgres_builds_the_same_scores_as_duckdb(tmp_path: Path, demo_dir, duckdb_marts, postgres):
    ws = Workspace(tmp_path, extra_env=postgres.env())
    loaded = ws.leadscore("load", str(demo_dir), "--target", "postgres")
    assert "into schema raw of target postgres" in loaded.stdout

    seconds = _timed(lambda: ws.leadscore("build", "--as-of", END_DATE, "--target", "postgres"))
    print(f"\nPostgreSQL build of {LEADS} leads: {seconds:.1f} s")

    target = ws.target("postgres")
    _assert_same_marts(target, duckdb_marts)
    top = json.loads(ws.leadscore("top", "10", "--format", "json", "--target", "postgres").stdout)
    assert _rounded(top) == _rounded(duckdb_marts["top"]["rows"]["rows"])
    # The DuckDB warehouse was never created: the whole run happened on the server.
    assert not ws.warehouse.exists()


def test_postgres_load_is_all_or_nothing(tmp_path: Path, demo_dir, postgres):
    ws = Workspace(tmp_path, extra_env=postgres.env())
    ws.leadscore("load", str(demo_dir), "--target", "postgres")
    target = ws.target("postgres")
    with connection(target) as run:
        before = run("select count(*) as n, max(_loaded_at) as at from raw.events")[0]

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("leads.csv", "orders.csv"):
        (broken / name).write_bytes((demo_dir / name).read_bytes())
    (broken / "events.csv").write_text(
        'event_id,lead_id,event_type,occurred_at,properties\nE1,L1,"page_view\n'
    )
    failed = ws.leadscore("load", str(broken), "--target", "postgres", check=False)
    assert failed.returncode == 1
    assert "events.csv line 2" in failed.stderr and "nothing loaded" in failed.stderr
    with connection(target) as run:
        assert run("select count(*) as n, max(_loaded_at) as at from raw.events")[0] == before


def test_unknown_target_is_refused(tmp_path: Path, demo_dir):
    ws = Workspace(tmp_path)
    refused = ws.leadscore("load", str(demo_dir), "--target", "oracle", check=False)
    assert refused.returncode == 2
    assert "no target 'oracle'" in refused.stderr


@pytest.mark.spark
def test_spark_builds_the_same_scores_as_duckdb(tmp_path: Path, demo_dir, duckdb_marts):
    ws = Workspace(tmp_path, extra_env={"LEADSCORE_SPARK_DIR": str(tmp_path / "spark")})
    ws.leadscore("load", str(demo_dir), "--target", "spark")
    # load and build are separate processes: the tables and the metastore persist in LEADSCORE_SPARK_DIR.
    started = time.perf_counter()
    built = ws.leadscore("build", "--as-of", END_DATE, "--target", "spark")
    print(f"\nSpark build of {LEADS} leads: {time.perf_counter() - started:.1f} s")
    assert "expectations passed" in built.stdout and "published as views" in built.stdout
    build_id = built.stdout.split()[1].rstrip(":")

    # Write-audit-publish: a build failing a Great Expectations expectation (drift bounds no build meets)
    # wrote its own databases, and publishes nothing.
    ws.extra_env["LEADSCORE_DRIFT_MEAN_SCORE"] = "-1"
    failed = ws.leadscore("build", "--as-of", END_DATE, "--target", "spark", check=False)
    del ws.extra_env["LEADSCORE_DRIFT_MEAN_SCORE"]
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "quality expectations failed" in failed.stderr and "not published" in failed.stderr

    # `top` before reading in this process: Derby lets one process at a time open the metastore, and the
    # JVM pytest starts below keeps it until pytest exits.
    top = json.loads(ws.leadscore("top", "10", "--format", "json", "--target", "spark").stdout)
    assert _rounded(top) == _rounded(duckdb_marts["top"]["rows"]["rows"])
    target = ws.target("spark")
    _assert_same_marts(target, duckdb_marts)
    with connection(target) as run:
        for table in COMPARED:
            served = run(f"select distinct build_id from marts.{table}")
            assert served == [{"build_id": build_id}], f"marts.{table} serves {served}, not build {build_id}"
        assert len(run("select * from audit.published_runs")) == 1
        views = {row["viewName"] for row in run("show views in marts")}
        assert set(COMPARED) <= views
        databases = {row["namespace"] for row in run("show databases")}
        assert len({name for name in databases if name.startswith("marts__b")}) == 2  # published, failed


# ----------------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------------


def _assert_same_marts(target: Target, reference: dict[str, dict[str, dict]]) -> None:
    with connection(target) as run:
        for table, key in COMPARED.items():
            rows = _keyed(run(f"select * from marts.{table}"), key)
            expected = reference[table]
            assert rows.keys() == expected.keys(), f"{table}: different {key}s on {target.name}"
            differences = [
                f"{table} {row_key} {column}: {target.name} {value!r}, duckdb {expected[row_key][column]!r}"
                for row_key, row in rows.items()
                for column, value in row.items()
                if column not in NOT_COMPARED and not _same(value, expected[row_key][column])
            ]
            assert not differences, "\n".join(differences[:20]) + f"\n({len(differences)} differences)"
            some = next(iter(rows.values()))
            assert set(some) == set(next(iter(expected.values()))), f"{table}: different columns"


def _same(value: Any, expected: Any) -> bool:
    if isinstance(value, float) or isinstance(expected, float):
        if value is None or expected is None:
            return value is expected
        return math.isclose(value, expected, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    if isinstance(expected, Decimal):
        return isinstance(value, Decimal) and value == expected
    if isinstance(expected, datetime | date):
        return type(value) is type(expected) and value == expected
    return type(value) is type(expected) and value == expected


def _keyed(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    keyed = {row[key]: row for row in rows}
    assert len(keyed) == len(rows), f"duplicate {key}"
    return keyed


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: round(v, 9) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
