"""What a refresh re-runs: a build whose point tables and dbt code are those of the last published build skips
the seeds, their tests and the unit tests (they passed on exactly these inputs); any change to a seed or to
the code brings them back, so a bad point-table edit is still caught."""

from __future__ import annotations

import json
from pathlib import Path

from tests.python.conftest import CliRunner, Project

SKIPPED = "skipped: seeds, their tests and the unit tests (point tables and code unchanged"


def executed(project: Project) -> set[str]:
    """The resource types of the nodes the last dbt invocation ran (from its run_results.json)."""
    results = json.loads((project.dir / "target" / "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[0] for result in results}


def executed_tests_on_seeds(project: Project) -> int:
    """How many of the tests the last invocation ran are defined in seeds/_seeds.yml."""
    manifest = json.loads((project.dir / "target" / "manifest.json").read_text())
    results = json.loads((project.dir / "target" / "run_results.json").read_text())["results"]
    return sum(
        1
        for result in results
        if result["unique_id"].startswith("test.")
        and manifest["nodes"][result["unique_id"]]["original_file_path"] == "seeds/_seeds.yml"
    )


def test_unchanged_refresh_skips_seed_and_unit_tests_and_a_change_brings_them_back(
    project: Project, leadscore: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    leadscore("demo-data", "--leads", "300", "--seed", "7", "--out", str(data), "--end-date", "2026-10-31")
    leadscore("load", str(data))

    first = leadscore("build", "--as-of", "2026-10-31").stdout
    assert SKIPPED not in first
    assert {"seed", "unit_test", "model", "test"} <= executed(project)
    assert executed_tests_on_seeds(project) > 50

    second = leadscore("build", "--as-of", "2026-10-31").stdout
    assert SKIPPED in second, second
    assert executed(project) & {"seed", "unit_test"} == set()
    assert {"model", "test"} <= executed(project)
    assert executed_tests_on_seeds(project) == 0

    # A point-table edit: the seeds and their tests run again, and a duplicate key fails the build.
    seed = project.dir / "seeds" / "lead_property_rules.csv"
    original = seed.read_text()
    seed.write_text(original + original.splitlines()[1] + "\n")
    failed = leadscore("build", "--as-of", "2026-10-31", check=False)
    assert failed.returncode != 0
    assert "lead_property_rules" in failed.stdout + failed.stderr
    assert "not published" in failed.stdout + failed.stderr
    seed.write_text(original)

    # A code change (here a comment in a model): the unit tests run again.
    model = project.dir / "models" / "intermediate" / "int_leads_rfm_scored.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    third = leadscore("build", "--as-of", "2026-10-31").stdout
    assert SKIPPED not in third
    assert "unit_test" in executed(project)

    fourth = leadscore("build", "--as-of", "2026-10-31").stdout
    assert SKIPPED in fourth
