"""`leadscore impact`: what a point-table change does, scored on the side, the served warehouse untouched."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from orchestration.analysis.impact import render_markdown, spearman

from conftest import CliRunner, Project

END_DATE = "2026-10-31"


def git(project: Project, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=project.dir,
        check=True,
        capture_output=True,
    )


def commit_project(project: Project) -> None:
    git(project, "init", "--quiet")
    git(project, "add", ".")
    git(project, "commit", "--quiet", "-m", "base point tables")


def edit_seed(project: Project, seed: str, old: str, new: str) -> None:
    path = project.dir / "seeds" / f"{seed}.csv"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_impact_of_a_point_table_change(tmp_path: Path, project: Project, leadscore: CliRunner):
    commit_project(project)
    demo = tmp_path / "demo"
    leadscore("demo-data", "--leads", "1000", "--seed", "3", "--out", str(demo), "--end-date", END_DATE)
    leadscore("load", str(demo))
    leadscore("build", "--as-of", END_DATE)
    served_before = digest(project.warehouse)
    files_before = {p.name for p in project.warehouse.parent.iterdir()}

    # The pull request: demo requests worth more, email opens worth nothing.
    edit_seed(
        project,
        "engagement_event_points",
        "demo_request,demo_request,,,,decision,25,50,",
        "demo_request,demo_request,,,,decision,40,80,",
    )
    edit_seed(
        project,
        "engagement_event_points",
        "email_open,email_open,,,,discovery,1,5,",
        "email_open,email_open,,,,discovery,0,0,",
    )
    out = leadscore("impact", "--base", "HEAD", "--format", "json", "--backtest-dates", "2")
    result = json.loads(out.stdout)

    # The served warehouse was only read; the result is kept beside it for `leadscore report`.
    assert digest(project.warehouse) == served_before
    assert {p.name for p in project.warehouse.parent.iterdir()} - files_before == {"last_impact.json"}
    assert json.loads((project.warehouse.parent / "last_impact.json").read_text()) == result

    assert result["as_of"] == END_DATE  # the served mart's as-of date
    assert result["seeds_changed"] == ["engagement_event_points"]
    assert result["scoring_versions"]["base"] != result["scoring_versions"]["head"]
    compared = result["leads_compared"]
    assert compared > 0 and result["leads_only_base"] == result["leads_only_head"] == 0
    assert 0 < result["leads_score_changed"] < compared
    for name in ("tier", "mql", "grade_cell"):
        counts = result[name]["counts"]
        assert sum(map(sum, counts)) == compared
        off_diagonal = sum(c for i, row in enumerate(counts) for j, c in enumerate(row) if i != j)
        assert result[name]["changed"] == off_diagonal
    assert result["tier"]["keys"][:3] == ["prioritise", "nurture", "drop"]
    assert sum(t["leads"] for t in result["grade_cell_transitions"]) == result["grade_cell"]["changed"] > 0
    assert 0.5 < result["spearman"] < 1

    movers = result["top_movers"]
    assert len(movers) == 10
    assert [abs(m["delta"]) for m in movers] == sorted((abs(m["delta"]) for m in movers), reverse=True)
    for mover in movers:
        # The rules that moved a lead add up to its move, and the move comes from engagement.
        moved = sum(r["delta"] for r in mover["rules"] if r["unit"] == "score points")
        assert moved == pytest.approx(mover["delta"], abs=1e-6)
        assert mover["head"]["score"] - mover["base"]["score"] == pytest.approx(mover["delta"], abs=1e-6)
        # (the level's row, and the event rules' rows in dimension engagement_points since 5ef8f9a)
        assert {r["dimension"] for r in mover["rules"]} <= {"engagement", "engagement_points"}
        assert "engagement" in {r["dimension"] for r in mover["rules"]}
        assert {r["rule"] for r in mover["rules"] if r["unit"] == "engagement points"} <= {
            "demo_request",
            "email_open",
        }

    backtest = {m["metric"]: m for m in result["backtest"]["metrics"]}
    assert result["backtest_dates"] == ["2026-08-02", "2026-09-01"]
    auc = backtest["roc_auc"]
    assert 0.5 < auc["base"] < 1 and 0.5 < auc["head"] < 1
    assert auc["delta"] == pytest.approx(auc["head"] - auc["base"])
    assert backtest["base_rate"]["delta"] == pytest.approx(0)  # same leads, same conversions

    markdown = render_markdown(result)
    for expected in (
        "### Scoring impact",
        "| ROC AUC |",
        "#### Tier",
        "#### Top movers",
        movers[0]["lead_id"],
    ):
        assert expected in markdown


def test_impact_is_a_no_op_without_a_seed_change_and_fails_on_an_unknown_ref(
    project: Project, leadscore: CliRunner
):
    commit_project(project)
    skipped = leadscore("impact", "--base", "HEAD", "--only-if-seeds-changed")
    assert "Skipped: no seed changed" in skipped.stdout
    assert not (project.warehouse.parent / "last_impact.json").exists()

    failed = leadscore("impact", "--base", "no-such-branch", check=False)
    assert failed.returncode == 1
    assert "does not resolve" in failed.stderr


def test_spearman_is_the_correlation_of_average_ranks():
    assert spearman(pd.Series([1.0, 2, 3, 4]), pd.Series([1.0, 3, 2, 4])) == pytest.approx(0.8)
    assert spearman(pd.Series([1.0, 2, 2, 3]), pd.Series([3.0, 2, 2, 1])) == pytest.approx(-1)
    assert spearman(pd.Series([1.0, 1, 1]), pd.Series([1.0, 2, 3])) is None
