"""Shared fixtures: a private copy of the dbt project per test, and a runner for the real `leadscore` CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "seeds", "macros", "tests")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spark: builds the project on Apache Spark (minutes); `make test` runs it, `make test-spark` alone",
    )


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


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A private copy of the project: tests may edit its seeds without touching the repository."""
    project_dir = copy_project(tmp_path / "project")
    return Project(dir=project_dir, warehouse=tmp_path / "warehouse" / "leadscore.duckdb")


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
