"""The score history keeps every lead's scores per date and per scoring version, side by side."""

from __future__ import annotations

from pathlib import Path

import duckdb

from conftest import CliRunner, Project
from golden_data import AS_OF, write_export

EARLIER = "2026-11-10"  # before the golden lead's demo requests: not an MQL yet


def history(project: Project) -> list[tuple]:
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        return con.execute(
            """
            select lead_id, cast(score_date as varchar), scoring_version, build_id, score_total, is_mql
            from history.lead_score_history order by scoring_version, score_date, lead_id
            """
        ).fetchall()


def test_history_adds_dates_replaces_reruns_whole_days_and_keeps_other_versions(
    tmp_path: Path, project: Project, leadscore: CliRunner
):
    leadscore("load", str(write_export(tmp_path / "export")))
    leadscore("build", "--as-of", EARLIER)
    # Re-scoring another date, or with other point tables, moves the mean score: accept that drift.
    leadscore("build", "--as-of", AS_OF, "--accept-drift")
    first = history(project)
    assert {row[1] for row in first} == {EARLIER, AS_OF}
    assert len({row[2] for row in first}) == 1
    golden = {row[1]: row for row in first if row[0] == "G1"}
    assert golden[EARLIER][5] is False and golden[AS_OF][5] is True
    assert float(golden[AS_OF][4]) == 15.0

    # Rebuilding a date with the same point tables replaces its rows: same keys, a new build id.
    leadscore("build", "--as-of", AS_OF, "--accept-drift")
    rerun = history(project)
    assert [r[:3] for r in rerun] == [r[:3] for r in first]
    assert {r[3] for r in rerun if r[1] == AS_OF} != {r[3] for r in first if r[1] == AS_OF}
    assert {r[3] for r in rerun if r[1] == EARLIER} == {r[3] for r in first if r[1] == EARLIER}

    # New point tables: a new scoring version beside the old one, whose rows are untouched.
    seed = project.dir / "seeds" / "lead_property_rules.csv"
    seed.write_text(seed.read_text().replace(",1,industry,10,Technology", ",1,industry,14,Technology"))
    leadscore("build", "--as-of", AS_OF, "--accept-drift")
    both = history(project)
    versions = sorted({r[2] for r in both})
    assert len(versions) == 2
    old_version = first[0][2]
    assert [r for r in both if r[2] == old_version] == [r for r in rerun if r[2] == old_version]
    new_golden = next(r for r in both if r[0] == "G1" and r[2] != old_version)
    assert float(new_golden[4]) == 16.0  # 15 + 0.25 x (14 - 10)

    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        firsts = {
            row[1]: row
            for row in con.execute(
                """
                select lead_id, scoring_version, cast(first_mql_date as varchar),
                    cast(last_non_mql_date as varchar), score_total, engagement_score
                from marts.lead_first_mql where lead_id = 'G1'
                """
            ).fetchall()
        }
    assert firsts[old_version][2:] == (AS_OF, EARLIER, 15, 7)
    new_version = next(v for v in versions if v != old_version)
    assert firsts[new_version][2:4] == (AS_OF, None)

    # Rebuilding a day replaces it whole: after a full reload without lead N1 (and its events), the rebuilt
    # day (new point tables) has no N1 row left; the days and versions built when N1 existed keep theirs.
    export = write_export(tmp_path / "without-n1")
    for name in ("leads.csv", "events.csv"):
        path = export / name
        kept = [line for line in path.read_text().splitlines(True) if not line.startswith("N1,")]
        path.write_text("".join(line for line in kept if ",N1," not in line))
    leadscore("load", str(export))
    leadscore("build", "--as-of", AS_OF, "--accept-drift")
    rows = history(project)
    assert {r[0] for r in rows if r[1] == AS_OF and r[2] == new_version} == {"G1", "D1", "C1"}
    assert ("N1", EARLIER, old_version) in {r[:3] for r in rows}
    assert ("N1", AS_OF, old_version) in {r[:3] for r in rows}
