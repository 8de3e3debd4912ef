"""Throw-away copies of the dbt project and of the warehouse, to score what-ifs without touching anything.

`leadscore impact` scores the same raw data with two sets of point tables, `leadscore calibrate` with proposed
ones: each side gets its own copy of the project (with its own seeds and dbt target folder) and its own
warehouse file, filled with a copy of the raw layer. The pipeline database is only ever opened read-only.

Scoring a sandbox fills the score history for a few past dates first (`dbt run` of the models the history
needs, as of each date: no tests, the final build runs them all), then runs one `dbt build` as of the final
date (every model, seed test and data test; unit tests are left to `make test`), which also builds the
backtest marts from that history.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from orchestration.build.dbt_invocation import DbtResult, run_dbt
from orchestration.build.pipeline import describe_failures, scoring_version
from orchestration.build.seed_check import check_seeds
from orchestration.settings import RAW_SCHEMA, RAW_TABLES, Settings
from orchestration.warehouse import connect_read_only, connect_writer

PROJECT_PARTS: tuple[str, ...] = ("dbt_project.yml", "profiles.yml", "models", "seeds", "macros", "tests")
HISTORY_MODEL = "lead_score_history"


class SandboxError(Exception):
    """A sandbox could not be prepared or scored; the message says which side and why."""


@dataclass
class Sandbox:
    """A private project copy and warehouse file."""

    name: str
    root: Path

    @property
    def project_dir(self) -> Path:
        return self.root / "project"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def target_path(self) -> Path:
        return self.root / "target"

    @property
    def settings(self) -> Settings:
        return Settings(project_dir=self.project_dir, warehouse_path=self.warehouse_path)

    def seeds_dir(self) -> Path:
        return self.project_dir / "seeds"

    def version(self) -> str:
        return scoring_version(self.project_dir)

    def dbt(self, args: Sequence[str], dbt_vars: Mapping[str, Any] | None = None) -> DbtResult:
        return run_dbt(self.settings, args, dbt_vars=dbt_vars, target_path=self.target_path)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return connect_read_only(self.warehouse_path)


def create_sandbox(
    root: Path, name: str, source_project: Path, seed_files: Mapping[str, bytes] | None = None
) -> Sandbox:
    """Copy the project's dbt files under root/name; replace seed CSVs by `seed_files` (name -> bytes)."""
    sandbox = Sandbox(name=name, root=root / name)
    sandbox.project_dir.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = source_project / part
        if source.is_dir():
            shutil.copytree(
                source,
                sandbox.project_dir / part,
                ignore=shutil.ignore_patterns("python", "__pycache__", "target", "logs"),
            )
        elif source.exists():
            shutil.copy2(source, sandbox.project_dir / part)
    if seed_files is not None:
        write_seed_files(sandbox, seed_files)
    return sandbox


def write_seed_files(sandbox: Sandbox, seed_files: Mapping[str, bytes]) -> None:
    """Replace the sandbox's seed CSVs named in seed_files (others are kept)."""
    for file_name, content in seed_files.items():
        (sandbox.seeds_dir() / file_name).write_bytes(content)


def copy_raw_layer(sandbox: Sandbox, served_warehouse: Path) -> dict[str, int]:
    """Copy the raw tables of a warehouse's pipeline database (opened read-only; publishing.pipeline_path)
    into the sandbox's warehouse."""
    if not served_warehouse.exists():
        raise SandboxError(
            f"no warehouse at {served_warehouse}: run `leadscore load` and `leadscore build` first, "
            "or pass --data FOLDER"
        )
    counts: dict[str, int] = {}
    with connect_writer(sandbox.warehouse_path) as con:
        con.execute(f"attach '{_sql_text(served_warehouse)}' as served (read_only)")
        try:
            con.execute(f"create schema if not exists {RAW_SCHEMA}")
            for table in RAW_TABLES:
                con.execute(
                    f"create or replace table {RAW_SCHEMA}.{table} "
                    f"as select * from served.{RAW_SCHEMA}.{table}"
                )
                counts[table] = con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchone()[0]
        except duckdb.CatalogException as exc:
            raise SandboxError(f"{served_warehouse} has no complete raw layer: {exc}") from exc
        finally:
            con.execute("detach served")
    return counts


def load_raw_folder(sandbox: Sandbox, data_dir: Path) -> dict[str, int]:
    """Load an export folder (leads, events, orders) into the sandbox's warehouse as the raw layer.

    A file with no rows is accepted here (allow_shrink): the sandbox starts empty, so there is no table to
    wipe, and an export without orders (a business that sells elsewhere, the bank example) is what the user
    means. A sandbox without leads still fails, when it is scored ("no leads to score")."""
    from orchestration.ingest.loader import load_raw

    return load_raw(data_dir, sandbox.warehouse_path, allow_shrink=True)


def clone_raw_layer(source: Sandbox, destination: Sandbox) -> None:
    """Give destination the same raw layer as source (a file copy of source's warehouse before scoring)."""
    shutil.copyfile(source.warehouse_path, destination.warehouse_path)


def score(
    sandbox: Sandbox,
    as_of: date,
    history_dates: Iterable[date] = (),
    window_days: int | None = None,
    build_id: str | None = None,
) -> str:
    """Score the sandbox: history as of each past date, then a full build as of as_of. Return the version."""
    try:
        check_seeds(sandbox.project_dir)
    except Exception as exc:  # SeedError names file, line and column
        raise SandboxError(f"{sandbox.name}: {exc}") from exc
    version = sandbox.version()
    common: dict[str, Any] = {"scoring_version": version, "build_id": build_id or f"{sandbox.name}-{version}"}
    if window_days is not None:
        common["backtest_window_days"] = int(window_days)
    past = sorted({d for d in history_dates if d < as_of})
    if past:
        # Seeds are loaded first (their tests run in the final build) for the runs of the past dates.
        _check(sandbox, sandbox.dbt(["seed"], {**common, "as_of": past[0].isoformat()}))
        for day in past:
            result = sandbox.dbt(
                ["run", "--select", f"+{HISTORY_MODEL}"], {**common, "as_of": day.isoformat()}
            )
            _check(sandbox, result)
    # Unit tests check the SQL logic on fixed inputs (make test runs them); data and seed tests all run here.
    final = ["build", "--exclude-resource-type", "unit_test"]
    _check(sandbox, sandbox.dbt(final, {**common, "as_of": as_of.isoformat()}))
    return version


def _check(sandbox: Sandbox, result: DbtResult) -> None:
    if not result.success:
        raise SandboxError(f"{sandbox.name}: " + describe_failures(result.failures, result.output))


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
