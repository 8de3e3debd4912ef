"""The worked example end to end: load CSV files, build as of a date, read the top of the mart."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from conftest import CliRunner, Project, Published
from golden_data import AS_OF, write_export


def test_golden_lead_scores_fifteen_and_tops_the_ranking(
    golden_published: Published, project: Project, leadscore: CliRunner
):
    # What `leadscore load` and `leadscore build --as-of AS_OF` printed (conftest ran them on the golden export).
    loaded, built = golden_published.load_output, golden_published.build_output
    assert "leads 4" in loaded and "events 17" in loaded and "orders 3" in loaded
    assert "scored 4 leads as of 2026-11-20" in built
    # Bad rows are counted by reason, not dropped silently.
    assert "unknown_or_rejected_lead" in built
    assert "unknown_event_type" in built
    assert "unparseable_occurred_at" in built
    assert "negative_amount" in built
    assert str(project.warehouse) in built

    top = json.loads(leadscore("top", "4", "--format", "json").stdout)
    assert [row["lead_id"] for row in top][0] == "G1"
    golden = top[0]
    assert golden["score_total"] == 15.0
    assert golden["tier"] == "prioritise"
    assert golden["tier_action"] == "prioritise"
    assert golden["grade_cell"] == "A1"
    assert golden["buying_stage"] == "decision"
    assert golden["is_mql"] is True
    assert golden["lead_rank"] == 1
    assert golden["as_of_date"] == AS_OF
    assert [row["lead_rank"] for row in top] == [1, 2, 3, 4]

    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        breakdown = con.execute(
            """
            select rule_type, rule_key, score_points
            from marts.lead_score_breakdown where lead_id = 'G1' and is_counted_in_total
            order by rule_type
            """
        ).fetchall()
        # The demo request of 2026-11-25 is after as_of: ignored.
        demo = con.execute(
            """
            select points, undecayed_points, is_capped from marts.lead_score_breakdown
            where lead_id = 'G1' and rule_key = 'demo_request'
            """
        ).fetchone()
        email = con.execute(
            "select email, email_domain from marts.lead_scores where lead_id = 'G1'"
        ).fetchone()
    assert [(rule_type, rule_key, float(points)) for rule_type, rule_key, points in breakdown] == [
        ("company_size", "mid_market", 4.5),
        ("engagement_level", "high", 7.0),
        ("geography", "primary", 1.0),
        ("industry", "technology", 2.5),
        ("job_role", "no_title", 0.0),
    ]
    assert demo == (50.0, 75.0, True)
    assert email == (None, "golden-tech.fr")


def test_top_prints_table_and_csv(golden_published: Published, leadscore: CliRunner):
    table = leadscore("top", "2").stdout
    header, first = table.splitlines()[:2]
    assert header.split()[:5] == ["lead_rank", "lead_id", "company_name", "score_total", "tier"]
    assert first.split()[:2] == ["1", "G1"] and "15.00" in first
    csv_lines = leadscore("top", "2", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("lead_rank,lead_id,company_name,score_total,tier")
    assert csv_lines[1].startswith("1,G1,Golden Tech SAS,15.0,prioritise")
    assert len(csv_lines) == 3


def test_rescoring_a_past_date_ignores_later_events(tmp_path: Path, leadscore: CliRunner, project: Project):
    leadscore("load", str(write_export(tmp_path / "export")))
    leadscore("build", "--as-of", "2026-11-13")
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        golden = con.execute(
            "select engagement_points, engagement_level, score_total from marts.lead_scores where lead_id = 'G1'"
        ).fetchone()
        customer = con.execute(
            "select is_customer, rfm_segment from marts.lead_scores where lead_id = 'C1'"
        ).fetchone()
    # On 2026-11-13 none of G1's events had happened yet: fit 8, no engagement, inactive for 90 days (-3).
    assert golden == (0.0, "low", 5.0)
    # C1's orders: 1200 EUR (2025-02-01) and 900 USD (2026-11-01); the negative one was rejected.
    # Recency 12 days (R5), 2 orders (F2), 2028 EUR (M3): potential loyalist.
    assert customer == (True, "potential_loyalists")
