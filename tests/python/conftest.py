"""Shared fixtures: a private copy of the dbt project per test, and a runner for the real `leadscore` CLI.

Each test's project copy and warehouse live at one fixed path per pytest worker (`<worker temp>/work`),
emptied before every test (tests of a worker run one after another). The path being the same lets dbt's
partial-parse state carry over: a worker parses the unedited project once (`parsed_state`) and every copy
starts from it, so a test's first build re-parses only what the test edited instead of the whole project
(about 8 s a build). dbt records each node's absolute project path, and a seed is read from it, so that state is
only ever reused at the path it was made at. For the same reason a built warehouse can be snapshotted and
restored into a later test of the worker (`golden_published`). pytest's own `tmp_path` is still each test's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.analysis.sandbox import PROJECT_PARTS

REPO = Path(__file__).resolve().parents[2]

# The tests run quiet, as CI and schedulers do: their assertions read what commands print besides progress
# (one-line errors, summaries). test_progress.py turns progress on for the commands it watches.
os.environ.setdefault("LEADSCORE_QUIET", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spark: builds the project on Apache Spark (minutes); `make test` runs it, `make test-spark` alone",
    )
    config.addinivalue_line(
        "markers",
        "superset: the Superset dashboard in a real Superset; `make test-superset` runs it (not `make test`)",
    )
    config.addinivalue_line(
        "markers",
        "quiet: needs the machine to itself; `make test` runs these alone, after the parallel run",
    )


def pipeline_db(warehouse: Path) -> Path:
    """The pipeline database beside a served file: the raw layer, intermediate models, everything dbt and
    `leadscore load` write (publishing.pipeline_path). The served file holds only the served relations."""
    from orchestration.build.publishing import pipeline_path
    from orchestration.settings import Settings

    return pipeline_path(Settings(project_dir=REPO, warehouse_path=warehouse))


@dataclass
class Project:
    """A copy of the dbt project with its own warehouse file."""

    dir: Path
    warehouse: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DBT_PROJECT_DIR"] = str(self.dir)
        env["DBT_PROFILES_DIR"] = str(self.dir)
        env["LEADSCORE_DUCKDB_PATH"] = str(self.warehouse)
        return env


def copy_project(destination: Path) -> Path:
    """Copy the parts of the repository dbt needs (no target/, no warehouse) into destination."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(
                source, destination / part, ignore=shutil.ignore_patterns("python", "__pycache__")
            )
        else:
            shutil.copy2(source, destination / part)
    return destination


def _work_root(factory: pytest.TempPathFactory) -> Path:
    """Where this worker's tests keep their project copy and warehouse (the same path for every test)."""
    return factory.getbasetemp() / "work"


def _fresh_project(root: Path) -> Project:
    shutil.rmtree(root, ignore_errors=True)
    return Project(dir=copy_project(root / "project"), warehouse=root / "warehouse" / "leadscore.duckdb")


@pytest.fixture(scope="session")
def parsed_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt's partial-parse state of the unedited project at this worker's project path, parsed once with the
    environment a build gives dbt (the pipeline database's path, which the state's profile hash includes)."""
    from orchestration.build.dbt_invocation import run_dbt
    from orchestration.build.publishing import pipeline_path
    from orchestration.settings import Settings

    fresh = _fresh_project(_work_root(tmp_path_factory))
    served = Settings(project_dir=fresh.dir, warehouse_path=fresh.warehouse)
    parsed = run_dbt(Settings(project_dir=fresh.dir, warehouse_path=pipeline_path(served)), ["parse"])
    assert parsed.success, parsed.output
    state = tmp_path_factory.getbasetemp() / "parsed-state" / "partial_parse.msgpack"
    state.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(fresh.dir / "target" / "partial_parse.msgpack", state)
    return state


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory, parsed_state: Path) -> Project:
    """A private copy of the project: tests may edit its seeds without touching the repository."""
    fresh = _fresh_project(_work_root(tmp_path_factory))
    (fresh.dir / "target").mkdir()
    shutil.copy2(parsed_state, fresh.dir / "target" / parsed_state.name)
    return fresh


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def leadscore(project: Project) -> CliRunner:
    """Run the installed `leadscore` console script against the project copy."""
    executable = Path(sys.executable).with_name("leadscore")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [str(executable), *args],
            env=project.env(),
            cwd=project.dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"leadscore {' '.join(args)} exited {completed.returncode}\n"
                f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
            )
        return completed

    return run


@dataclass
class Published:
    """The golden export loaded, built as of golden_data.AS_OF and published, with what the CLI printed."""

    warehouse: Path
    load_output: str
    build_output: str


@pytest.fixture
def golden_published(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, project: Project, leadscore: CliRunner
) -> Published:
    """The project with the golden export published. The worker's first test to ask loads and builds it for real
    and snapshots the work folder; later tests get that snapshot restored at the same path (a build saved)."""
    from golden_data import AS_OF, write_export

    root = project.dir.parent
    snapshot = tmp_path_factory.getbasetemp() / "snapshots" / "golden-published"
    outputs = snapshot.with_suffix(".json")
    if not outputs.exists():
        loaded = leadscore("load", str(write_export(tmp_path / "export"))).stdout
        built = leadscore("build", "--as-of", AS_OF).stdout
        shutil.rmtree(snapshot, ignore_errors=True)
        shutil.copytree(root, snapshot)
        outputs.write_text(json.dumps({"load": loaded, "build": built}))
    else:
        shutil.rmtree(root)
        shutil.copytree(snapshot, root)
    printed = json.loads(outputs.read_text())
    return Published(warehouse=project.warehouse, load_output=printed["load"], build_output=printed["build"])


# Test files by their time in a CI run (worker seconds, fresh clone at 4c7c1f4), longest first. pytest-xdist
# hands whole files to workers in collection order (`--dist loadfile --no-loadscope-reorder`, see the
# Makefile), so the long files start first and the short ones fill in at the end. Unlisted files follow.
LONGEST_FIRST = (
    "test_engines.py",  # 650 s: DuckDB, PostgreSQL and Spark builds (before a second Spark build was added)
    "test_engine_publishing.py",  # about 440 s on a busy machine: seven PostgreSQL builds
    "test_publishing.py",  # 630 s
    "test_scoring_effectiveness.py",  # 440 s
    "test_incremental_refresh.py",  # 430 s
    "test_dagster_pipeline.py",  # 400 s
    "test_bad_input.py",  # about 300 s (run alone on 2 workers; not measured in CI yet)
    "test_faults.py",  # about 240 s (idem)
    "test_impact.py",  # 230 s
    "test_score_history.py",  # 170 s
    "test_crm_export.py",  # 160 s (measured alone: 70 s on an idle machine)
    "test_semantic_layer.py",  # 160 s (alone: 80 s)
    "test_lead_patching.py",  # 160 s
    "test_bad_seed_edits.py",  # 150 s
    "test_refresh_selection.py",  # 150 s
    "test_golden_case.py",  # 145 s
    "test_progress.py",  # three builds
    "test_engagement_rules.py",
    "test_dagster_ui.py",
    "test_project_conventions.py",
    "test_demo_pipeline.py",
    "test_reference_scoring.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    # A stable sort: the tests of a file keep their order.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
