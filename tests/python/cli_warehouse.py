"""A project copy with its own warehouse, driven through the installed command-line tools (`leadscore`, `mf`),
for module-scoped scenarios that build once and check many things."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from conftest import Project, copy_project, pipeline_db


class Warehouse:
    """A copy of the project under root, its warehouse file, and runners for the real CLIs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = Project(
            dir=copy_project(root / "project"), warehouse=root / "warehouse" / "leadscore.duckdb"
        )

    def run(
        self, executable: str, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a console script of this environment (leadscore, mf, dbt) in the project copy."""
        completed = subprocess.run(
            [str(Path(sys.executable).with_name(executable)), *args],
            env={**self.project.env(), **(env or {})},
            cwd=self.project.dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"{executable} {' '.join(args)} exited {completed.returncode}\n"
                f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
            )
        return completed

    def leadscore(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("leadscore", *args, check=check)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query on the served file, opened read-only."""
        with duckdb.connect(str(self.project.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    def records(self, sql: str) -> list[dict[str, Any]]:
        """The same, each row as a dict by column name."""
        with duckdb.connect(str(self.project.warehouse), read_only=True) as con:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def pipeline_records(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a query on the pipeline database (raw layer, intermediate models), each as a dict."""
        with duckdb.connect(str(pipeline_db(self.project.warehouse)), read_only=True) as con:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def metrics(self, metrics: str, group_by: str | None = None) -> list[dict[str, str]]:
        """The semantic layer's answer (`mf query` on the read-only `served` target), as CSV rows."""
        out = self.root / "mf.csv"
        extra = ["--group-by", group_by] if group_by else []
        self.run(
            "mf", "query", "--metrics", metrics, *extra, "--csv", str(out), env={"LEADSCORE_TARGET": "served"}
        )
        with out.open(newline="") as handle:
            return list(csv.DictReader(handle))
