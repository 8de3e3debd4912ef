"""Write, audit, publish: BI readers are never blocked by a refresh and never see a failed or partial build."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from conftest import CliRunner, Project, Published
from golden_data import AS_OF

READER = textwrap.dedent(
    """
    import json, sys, time, duckdb
    path, stop_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
    results, errors = [], []
    while True:
        try:
            with duckdb.connect(path, read_only=True) as con:
                results.append(con.execute(
                    "select count(distinct build_id), count(distinct as_of_date), count(*), min(build_id) "
                    "from marts.lead_scores").fetchone())
        except Exception as exc:
            errors.append(repr(exc))
        if len(results) + len(errors) >= 200 and __import__("os").path.exists(stop_file):
            break
        time.sleep(0.02)
    json.dump({"results": results, "errors": errors}, open(out, "w"))
    """
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def served_rows(path: Path) -> tuple[int, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select count(*), min(build_id) from marts.lead_scores").fetchone()


@pytest.fixture
def published(golden_published: Published) -> Path:
    """The served file of the golden export's published build (conftest: built once per worker)."""
    last_line = golden_published.build_output.strip().splitlines()[-1]
    assert last_line == f"published: {golden_published.warehouse}"
    return golden_published.warehouse


def test_a_build_that_fails_its_checks_does_not_publish(
    project: Project, leadscore: CliRunner, published: Path
):
    before, rows_before = digest(published), served_rows(published)
    weights = project.dir / "seeds" / "score_weights.csv"
    weights.write_text(weights.read_text().replace("engagement,base,0.35", "engagement,base,0.45"))
    failed = leadscore("build", "--as-of", "2026-11-21", check=False)
    assert failed.returncode == 1
    assert f"not published: the previous version is still served at {published}" in failed.stderr
    assert "published:" not in failed.stdout
    assert digest(published) == before
    assert served_rows(published) == rows_before


def test_readers_see_complete_builds_during_two_refreshes(
    tmp_path: Path, project: Project, leadscore: CliRunner, published: Path
):
    stop_file, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop_file), str(out)])
    try:
        time.sleep(0.5)
        for as_of in ("2026-11-19", "2026-11-21"):
            leadscore("build", "--as-of", as_of)
        stop_file.touch()
        assert reader.wait(timeout=120) == 0
    finally:
        reader.kill()
    report = json.loads(out.read_text())
    assert report["errors"] == []
    assert len(report["results"]) >= 200
    # Every query saw exactly one build and one as_of date, and all four leads.
    assert {tuple(r[:3]) for r in report["results"]} == {(1, 1, 4)}
    # The reader did see the refreshes happen (three different builds over its lifetime).
    assert len({r[3] for r in report["results"]}) == 3


def test_a_refresh_killed_at_random_moments_leaves_the_served_mart_intact(
    project: Project, leadscore: CliRunner, published: Path
):
    rng = random.Random(20261122)
    executable = Path(sys.executable).with_name("leadscore")
    served = digest(published), served_rows(published)
    kills = 0
    for trial in range(5):
        process = subprocess.Popen(
            [str(executable), "build", "--as-of", "2026-11-21"],
            env=project.env(),
            cwd=project.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.2, 8.0))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
        if process.returncode == 0:  # finished before the kill: that build was published, which is fine
            served = digest(published), served_rows(published)
        assert (digest(published), served_rows(published)) == served, f"trial {trial}"
    assert kills >= 3, "the builds finished too fast to be killed mid-way"
    after = leadscore("build", "--as-of", "2026-11-20")
    assert f"published: {published}" in after.stdout
    count, build_id = served_rows(published)
    assert count == 4 and build_id != served[1][1]


def test_drift_beyond_the_bound_blocks_publishing_until_accepted(
    project: Project, leadscore: CliRunner, published: Path
):
    """Great Expectations audit: re-scoring a week earlier drops the golden lead from 15 to 5 points, moving
    the mean score of the four leads by 2.5 (> the 2.0 default bound)."""
    before = digest(published)
    blocked = leadscore("build", "--as-of", "2026-11-13", check=False)
    assert blocked.returncode == 1
    assert "quality expectations failed (Great Expectations)" in blocked.stderr
    assert "drift from the last published run" in blocked.stderr
    assert "not published" in blocked.stderr
    assert digest(published) == before
    accepted = leadscore("build", "--as-of", "2026-11-13", "--accept-drift")
    assert "quality checks: 30/30 expectations passed" in accepted.stdout
    assert f"published: {published}" in accepted.stdout
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from audit.published_runs").fetchone()[0] == 2


def test_a_failed_build_leaves_nothing_behind_for_the_next_publish(
    project: Project, leadscore: CliRunner, published: Path
):
    """A build that failed its audit wrote score history for its date into the pipeline database; the next
    build restores the history from the served file and rebuilds the incremental models, so that history
    never gets published."""
    blocked = leadscore("build", "--as-of", "2026-11-13", check=False)
    assert blocked.returncode == 1 and "drift from the last published run" in blocked.stderr
    rebuilt = leadscore("build", "--as-of", "2026-11-21")
    assert "lead tables: rebuilt (the last build was not published (failed or killed)" in rebuilt.stdout
    with duckdb.connect(str(published), read_only=True) as con:
        dates = {
            d.isoformat()
            for (d,) in con.execute("select distinct score_date from history.lead_score_history").fetchall()
        }
        runs = con.execute("select count(*) from audit.published_runs").fetchone()[0]
    assert dates == {AS_OF, "2026-11-21"}
    assert runs == 2
