"""The dbt project as dagster-dbt sees it: one DbtProject whose manifest is prepared when needed."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

# Dagster's manifest lives beside, not in, the CLI's target/ so the two entry points never race on it.
DAGSTER_TARGET_PATH = Path("target") / "dagster"


def dbt_project_for(project_dir: Path) -> DbtProject:
    """The project's DbtProject with a loadable manifest: re-parsed at load time under `dagster dev` (so edits
    to models and seeds show up), parsed once if missing anywhere else (a fresh clone, tests)."""
    _put_dbt_on_path()
    project = DbtProject(project_dir=project_dir, target_path=DAGSTER_TARGET_PATH)
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project


def _put_dbt_on_path() -> None:
    """dagster-dbt's preparer runs `dbt` from PATH; `.venv/bin/dagster dev` without an activated venv has
    no dbt there. Use the dbt installed beside this Python (as `leadscore build` does)."""
    if shutil.which("dbt") is None:
        os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
