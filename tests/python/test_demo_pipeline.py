"""The main job on generated demo data: demo-data -> load -> build -> top, with injected bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from conftest import CliRunner, Project, pipeline_db

END_DATE = "2026-10-31"


def test_demo_data_builds_ranks_and_rejects(tmp_path: Path, project: Project, leadscore: CliRunner):
    out = tmp_path / "demo"
    leadscore(
        "demo-data",
        "--leads",
        "3000",
        "--seed",
        "7",
        "--out",
        str(out),
        "--end-date",
        END_DATE,
        "--bad-rows",
        "0.01",
    )
    leadscore("load", str(out))
    built = leadscore("build", "--as-of", END_DATE)
    assert "scored" in built.stdout and "rejected rows:" in built.stdout

    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        # The raw layer and the intermediate models live in the pipeline database, never in the served file.
        con.execute(f"attach '{pipeline_db(project.warehouse)}' as pipeline (read_only)")
        raw_leads = con.execute("select count(*) from pipeline.raw.leads").fetchone()[0]
        rejected_leads = con.execute(
            "select count(*) from marts.rejected_rows where source_table = 'leads'"
        ).fetchone()[0]
        scored = con.execute("select count(*) from marts.lead_scores").fetchone()[0]
        reasons = {
            r for (r,) in con.execute("select distinct reject_reason from marts.rejected_rows").fetchall()
        }
        raw_total = con.execute(
            "select (select count(*) from pipeline.raw.leads) + (select count(*) from pipeline.raw.events)"
            " + (select count(*) from pipeline.raw.orders)"
        ).fetchone()[0]
        accepted_total = con.execute(
            """
            select
                (select count(*) from pipeline.intermediate.int_leads_validated where reject_reason is null)
                + (select count(*) from pipeline.intermediate.int_events_validated where reject_reason is null)
                + (select count(*) from pipeline.intermediate.int_orders_validated where reject_reason is null)
            """
        ).fetchone()[0]
        rejected_total = con.execute("select count(*) from marts.rejected_rows").fetchone()[0]
        breakdown_mismatches = con.execute(
            """
            select count(*) from marts.lead_scores as s
            join (select lead_id, sum(score_points) as total from marts.lead_score_breakdown group by lead_id) as b
                using (lead_id)
            where s.score_total <> b.total
            """
        ).fetchone()[0]
        ranks = con.execute(
            "select min(lead_rank), max(lead_rank), count(distinct lead_rank) from marts.lead_scores"
        ).fetchone()
        tiers = dict(con.execute("select tier, count(*) from marts.lead_scores group by tier").fetchall())
        # Scoring should find the leads that convert: conversions after as_of are not in the data, so compare
        # the conversion rate (converted before as_of) of the top tier with the bottom tier as a sanity check.
        rates = dict(
            con.execute(
                "select tier, avg(case when is_customer then 1.0 else 0.0 end) from marts.lead_scores group by tier"
            ).fetchall()
        )

    # Nothing disappears: every raw row is accepted or rejected.
    assert raw_total == accepted_total + rejected_total
    assert rejected_total > 0
    # The kinds of bad rows the generator injects are all recognised.
    assert {
        "missing_lead_id",
        "duplicate_lead_id",
        "unknown_or_rejected_lead",
        "unknown_event_type",
        "negative_amount",
        "unparseable_amount",
    } <= reasons
    assert any(reason.startswith("unparseable_") and reason.endswith("_at") for reason in reasons)
    assert any(reason.endswith("_after_load") for reason in reasons)
    # Every accepted lead created by as_of is scored, once, with a contiguous rank.
    assert 0 < scored <= raw_leads - rejected_leads
    assert ranks == (1, scored, scored)
    assert breakdown_mismatches == 0
    assert set(tiers) <= {"prioritise", "nurture", "drop"} and len(tiers) >= 2
    assert rates.get("prioritise", rates.get("nurture")) > rates["drop"]

    top = json.loads(leadscore("top", "5", "--format", "json").stdout)
    assert [row["lead_rank"] for row in top] == [1, 2, 3, 4, 5]
    totals = [row["score_total"] for row in top]
    assert totals == sorted(totals, reverse=True)


def test_every_verb_has_help(leadscore: CliRunner):
    main_help = leadscore("--help").stdout
    for verb in ("demo-data", "load", "build", "top", "bench"):
        assert verb in main_help
        assert "Usage:" in leadscore(verb, "--help").stdout


def test_top_before_any_build_says_what_to_do(leadscore: CliRunner):
    failed = leadscore("top", "3", check=False)
    assert failed.returncode == 1
    assert "run `leadscore build` first" in failed.stderr
