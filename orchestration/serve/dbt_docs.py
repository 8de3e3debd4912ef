"""`leadscore docs`: the dbt documentation site, generated against the pipeline database.

`dbt docs generate` opens the database it documents for writing (dbt-duckdb connects read-write). Run on the
served file it would lock every BI reader out while it runs, and fail itself while a reader is connected. It
runs here against the pipeline database instead (publishing.pipeline_path): that file holds every relation of
the project (raw, staging, intermediate, marts, history), and no reader ever opens it. It waits for the writer
lock like any build, so it never runs while a build writes that file; the served file is never opened.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from orchestration.build.dbt_invocation import run_dbt
from orchestration.build.publishing import pipeline_path, writer_lock
from orchestration.settings import Settings

# What dbt writes for the site: the page (served by `dbt docs serve` or any static web server), the same page
# with the catalog and manifest inlined (opens from the file system, no server), and the two JSON files.
SITE_FILES = ("index.html", "static_index.html", "catalog.json", "manifest.json")


class DocsError(RuntimeError):
    """The documentation could not be generated; the message says why."""


def default_docs_dir(settings: Settings) -> Path:
    """Where `leadscore docs` writes the site by default: target/docs in the project folder."""
    return settings.project_dir / "target" / "docs"


def generate_docs(settings: Settings, out_dir: Path | None = None) -> Path:
    """Run `dbt docs generate --static` against the pipeline database and copy the site into out_dir;
    return out_dir."""
    out_dir = out_dir or default_docs_dir(settings)
    pipeline = pipeline_path(settings)
    with writer_lock(settings):
        if not pipeline.exists():
            raise DocsError(
                f"no pipeline database at {pipeline}: run `leadscore load` and `leadscore build` first"
            )
        target_path = settings.project_dir / "target"
        result = run_dbt(
            replace(settings, warehouse_path=pipeline),
            ["docs", "generate", "--static"],
            target_path=target_path,
        )
    if not result.success:
        raise DocsError("dbt docs generate failed:\n" + result.output.strip()[-3000:])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SITE_FILES:
        if target_path.resolve() / name != (out_dir / name).resolve():
            shutil.copyfile(target_path / name, out_dir / name)
    return out_dir
