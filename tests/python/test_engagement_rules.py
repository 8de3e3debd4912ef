"""Engagement on the same footing as fit, end to end through the real CLI (`load`, `build`, `top`, the breakdown):
event rules narrowed by a url (the pricing page scores, the careers page takes points), orders and the
conversion as activity for the inactivity rule, and RFM bands as quantiles of retail-size orders."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import CliRunner, Project, pipeline_db
from rule_seeds import narrow_event_rules, use_quantile_rfm_bands

AS_OF = "2026-11-20"
LEAD_HEADER = (
    "lead_id,email,company_name,industry,employee_count,annual_revenue,country_code,job_title,lead_source,"
    "created_at,lifecycle_stage,converted_at\n"
)
# Twenty customers with one retail-size order each (EUR): four tie at 10, two at 100.
RETAIL_AMOUNTS = (10, 10, 10, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 80, 90, 100, 100)


def lead_row(lead_id: str, converted_at: str = "") -> str:
    """Every lead has the same properties (same fit): only engagement, negative rules and RFM set them apart."""
    return (
        f"{lead_id},{lead_id.lower()}@shop-{lead_id.lower()}.fr,Shop {lead_id},retail,20,500000,FR,,web,"
        f"2025-01-01T09:00:00Z,lead,{converted_at}\n"
    )


def page_views(lead_id: str, urls: list[str], when: str = "2026-11-19T12:00:00Z") -> str:
    return "".join(
        f'V-{lead_id}-{n},{lead_id},page_view,{when},"{{""url"": ""{url}""}}"\n' for n, url in enumerate(urls)
    )


def write_export(folder: Path) -> Path:
    """P1 reads the pricing page four times; P2 the careers page four times and the blog twice; P3 the blog
    twice; P4 only the careers page. B1 ordered 19 days ago, B2 converted 50 days ago, B3's last completed
    order is 203 days old (a later one was refunded), B4 did nothing; none of the B leads has an event.
    R01-R20 each placed one retail-size order."""
    folder.mkdir(parents=True)
    customers = [f"R{n:02d}" for n in range(1, len(RETAIL_AMOUNTS) + 1)]
    leads = [
        *(lead_row(f"P{n}") for n in range(1, 5)),
        lead_row("B1"),
        lead_row("B2", "2026-10-01T10:00:00Z"),
    ]
    leads += [lead_row("B3"), lead_row("B4"), *(lead_row(c) for c in customers)]
    (folder / "leads.csv").write_text(LEAD_HEADER + "".join(leads))
    events = page_views("P1", ["/pricing", "/Pricing/plans", "/pricing?plan=team", "/en/pricing"])
    events += page_views(
        "P2", ["/careers", "/careers/sales", "/careers", "/careers/dev", "/blog", "/blog/rfm"]
    )
    events += page_views("P3", ["/blog", "/blog/rfm"]) + page_views("P4", ["/careers", "/careers/dev"])
    (folder / "events.csv").write_text("event_id,lead_id,event_type,occurred_at,properties\n" + events)
    orders = [
        "O-B1,B1,2026-11-01T10:00:00Z,49.90,EUR,completed",
        "O-B3a,B3,2026-05-01T10:00:00Z,49.90,EUR,completed",
        "O-B3b,B3,2026-11-10T10:00:00Z,49.90,EUR,refunded",
        *(
            f"O-{c},{c},2026-10-{n:02d}T10:00:00Z,{amount:.2f},EUR,completed"
            for n, (c, amount) in enumerate(zip(customers, RETAIL_AMOUNTS, strict=True), start=1)
        ),
    ]
    (folder / "orders.csv").write_text(
        "order_id,lead_id,ordered_at,amount,currency,status\n" + "\n".join(orders) + "\n"
    )
    return folder


def breakdown(project: Project, lead_id: str) -> dict[tuple[str, str], tuple]:
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        rows = con.execute(
            "select rule_type, rule_key, matched_value, points, is_capped, score_points"
            " from marts.lead_score_breakdown where lead_id = ?",
            [lead_id],
        ).fetchall()
    return {(rule_type, rule_key): tuple(rest) for rule_type, rule_key, *rest in rows}


def test_url_rules_score_pricing_up_and_careers_down(tmp_path: Path, project: Project, leadscore: CliRunner):
    narrow_event_rules(project.dir / "seeds")
    leadscore("load", str(write_export(tmp_path / "export")))
    built = leadscore("build", "--as-of", AS_OF).stdout
    assert "scored 28 leads" in built

    top = {row["lead_id"]: row for row in json.loads(leadscore("top", "28", "--format", "json").stdout)}
    # Four pricing views 1.5 days old: 4 x 5 x 0.5 ** (1.5 / 30) = 19.32 engagement points, level medium
    # (10 x 0.35 = 3.5): the pricing reader tops the ranking.
    assert top["P1"]["lead_rank"] == 1 and top["P1"]["engagement_score"] == 3.5
    assert top["P1"]["buying_stage"] == "evaluation"
    assert top["P3"]["lead_rank"] < top["P2"]["lead_rank"] < top["P4"]["lead_rank"]

    decay = 0.5 ** (1.5 / 30)
    p1 = breakdown(project, "P1")
    assert p1[("engagement_event", "pricing_page")][:3] == ("4 events", pytest.approx(20 * decay), False)
    assert ("engagement_event", "page_view") not in p1
    assert p1[("engagement_level", "medium")][-1] == 3.5
    # The careers page takes 2 points a view, floored at its cap of -6; the blog views keep page_view's point.
    p2 = breakdown(project, "P2")
    assert p2[("engagement_event", "careers_page")][:3] == ("4 events", -6.0, True)
    assert p2[("engagement_event", "page_view")][:3] == ("2 events", pytest.approx(2 * decay), False)
    assert p2[("engagement_level", "low")][0] == f"{2 * decay - 6:.2f} engagement points"
    # Careers visits are not engagement: P4 is inactive, P2 (blog views) is not.
    assert ("negative_rule", "inactive") in breakdown(project, "P4")
    assert ("negative_rule", "inactive") not in p2
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        points = dict(con.execute("select lead_id, engagement_points from marts.lead_scores").fetchall())
    assert points["P4"] == pytest.approx(-4 * decay) and points["P2"] == pytest.approx(2 * decay - 6)


def test_orders_and_conversions_are_activity(tmp_path: Path, project: Project, leadscore: CliRunner):
    leadscore("load", str(write_export(tmp_path / "export")))
    leadscore("build", "--as-of", AS_OF)
    inactive = {
        lead_id
        for lead_id in ("B1", "B2", "B3", "B4", "R01", "R20")
        if ("negative_rule", "inactive") in breakdown(project, lead_id)
    }
    # B1 ordered 19 days ago, B2 converted 50 days ago, R01-R20 ordered in October: active. B3's completed
    # order is 203 days old (its refunded one does not count) and B4 did nothing.
    assert inactive == {"B3", "B4"}
    assert breakdown(project, "B3")[("negative_rule", "inactive")][0] == "last activity 203.0 days ago"
    top = {row["lead_id"]: row for row in json.loads(leadscore("top", "28", "--format", "json").stdout)}
    assert top["B1"]["negative_score"] == 0 and top["B3"]["negative_score"] == -3


def test_quantile_rfm_bands_spread_retail_customers(tmp_path: Path, project: Project, leadscore: CliRunner):
    leadscore("load", str(write_export(tmp_path / "export")))
    leadscore("build", "--as-of", AS_OF)

    def monetary_scores() -> dict[str, int]:
        with duckdb.connect(str(pipeline_db(project.warehouse)), read_only=True) as con:
            rows = con.execute(
                "select lead_id, frequency_score, monetary_score from intermediate.int_leads_rfm_scored"
                " where lead_id like 'R%'"
            ).fetchall()
        assert {frequency for _, frequency, _ in rows} == {1}, "one order each: frequency 1"
        return {lead_id: monetary for lead_id, _, monetary in rows}

    # The default bands are fixed B2B amounts: every retail customer is M1.
    assert set(monetary_scores().values()) == {1}

    # Quintiles of the 22 customers (R01-R20, and B1 and B3 with 49.90 EUR each): a customer's quantile is the
    # share of customers who spent strictly less, M1 below 0.2 x 22 = 4.4 of them, M2 below 8.8, M3 below
    # 13.2, M4 below 17.6. The four 10s (none below) and 15 (4 below) are M1; 35 (8 below) is M2 and 40 (9) M3;
    # 50 (13 below: 11 amounts and the two 49.90) is M3, 70 (17) M4, 80 (18) M5; the two 100s share M5.
    use_quantile_rfm_bands(project.dir / "seeds")
    leadscore("build", "--as-of", AS_OF)
    scores = monetary_scores()
    expected = {
        10: 1,
        15: 1,
        20: 2,
        25: 2,
        30: 2,
        35: 2,
        40: 3,
        45: 3,
        50: 3,
        55: 4,
        60: 4,
        65: 4,
        70: 4,
        80: 5,
    }
    expected |= {90: 5, 100: 5}
    assert scores == {f"R{n:02d}": expected[amount] for n, amount in enumerate(RETAIL_AMOUNTS, start=1)}
    r20 = breakdown(project, "R20")
    assert any(
        rule_type == "rfm_segment" and value[0].endswith("M5") for (rule_type, _), value in r20.items()
    )
