"""The semantic layer and the exposures on a real built warehouse.

MetricFlow (`mf query`, dbt-metricflow) answers the metrics of models/marts/*/_*__semantic_models.yml on the
served file through the read-only `served` target, and its answers equal what the marts say, computed here in
SQL of our own. The exposures name exactly the relations their consumers read (the CRM export's and the
report's code, the dashboard's Superset datasets).
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import yaml

from orchestration import warehouse as warehouse_module
from orchestration.analysis import backtest

from cli_warehouse import Warehouse
from conftest import REPO

END_DATE = "2026-10-31"
SCHEMAS = ("marts", "history", "point_tables")
RELATION = re.compile(rf"\b(?:{'|'.join(SCHEMAS)})\.([a-z_]+)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Demo data and a backtest of two past dates, published."""
    warehouse = Warehouse(tmp_path_factory.mktemp("semantic_layer"))
    demo = warehouse.root / "demo"
    warehouse.run(
        "leadscore", "demo-data", "--leads", "600", "--seed", "21", "--out", str(demo), "--end-date", END_DATE
    )
    warehouse.leadscore("load", str(demo))
    warehouse.run(
        "leadscore",
        "backtest",
        "--from",
        "2026-06-01",
        "--to",
        "2026-07-31",
        "--every",
        "60",
        "--as-of",
        END_DATE,
    )
    return warehouse


def test_lead_metrics_equal_the_mart(warehouse):
    served = warehouse.project.warehouse
    before = hashlib.sha256(served.read_bytes()).hexdigest()
    overall = warehouse.metrics("leads_scored,mqls,mql_rate,mean_score")
    by_tier = warehouse.metrics("leads_scored,mqls,mql_rate,mean_score", "lead__tier")

    leads, mqls, mean = warehouse.query(
        "select count(*), sum(case when is_mql then 1 else 0 end), avg(cast(score_total as double)) from marts.lead_scores"
    )[0]
    assert mqls > 0
    (row,) = overall
    assert (int(row["leads_scored"]), int(row["mqls"])) == (leads, mqls)
    assert float(row["mql_rate"]) == pytest.approx(mqls / leads)
    assert float(row["mean_score"]) == pytest.approx(mean)

    expected = {
        tier: (count, mql, mean_score)
        for tier, count, mql, mean_score in warehouse.query(
            "select tier, count(*), sum(case when is_mql then 1 else 0 end), avg(cast(score_total as double)) "
            "from marts.lead_scores group by tier"
        )
    }
    answered = {
        r["lead__tier"]: (int(r["leads_scored"]), int(float(r["mqls"])), float(r["mean_score"]))
        for r in by_tier
    }
    assert answered.keys() == expected.keys() and len(expected) >= 2
    for tier, (count, mql, mean_score) in expected.items():
        assert answered[tier][:2] == (count, mql)
        assert answered[tier][2] == pytest.approx(mean_score)
    # MetricFlow read the served file and left it as it was (the `served` target opens it read-only).
    assert hashlib.sha256(served.read_bytes()).hexdigest() == before
    assert not served.with_name(served.name + ".wal").exists()


@pytest.mark.parametrize(("segment_type", "dimension"), [("tier", "tier"), ("grade_cell", "grade_cell")])
def test_conversion_rate_by_tier_and_grade_equals_the_backtest_mart(warehouse, segment_type, dimension):
    group = f"backtest_observation__{dimension}"
    answered = warehouse.metrics("conversion_rate,backtest_observations,backtest_conversions", group)
    expected = {
        key: (observations, conversions, rate)
        for key, observations, conversions, rate in warehouse.query(
            "select segment_key, observations, conversions, conversion_rate from marts.backtest_conversion_rates "
            f"where segment_type = '{segment_type}'"
        )
    }
    assert sum(conversions for _, conversions, _ in expected.values()) > 0
    got = {
        r[group]: (
            int(r["backtest_observations"]),
            int(float(r["backtest_conversions"])),
            float(r["conversion_rate"]),
        )
        for r in answered
    }
    assert got.keys() == expected.keys()
    for key, (observations, conversions, rate) in expected.items():
        assert got[key][:2] == (observations, conversions)
        assert got[key][2] == pytest.approx(rate)


def test_the_time_spine_covers_every_score_date(warehouse):
    days, first, last = warehouse.query(
        "select count(distinct date_day), min(date_day), max(date_day) from marts.metricflow_time_spine"
    )[0]
    assert days == (last - first).days + 1
    (uncovered,) = warehouse.query(
        "select count(*) from history.lead_score_history where score_date not in "
        "(select date_day from marts.metricflow_time_spine)"
    )[0]
    assert uncovered == 0


def exposure_dependencies(warehouse: Warehouse) -> dict[str, set[str]]:
    manifest = json.loads((warehouse.project.dir / "target" / "manifest.json").read_text())
    return {
        exposure["name"]: {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]}
        for exposure in manifest["exposures"].values()
    }


def relations_in(text: str) -> set[str]:
    return {name.lower() for name in RELATION.findall(text)}


def relations_read_by(module: str) -> set[str]:
    """The relations a module of the package names: written out, or by a constant of orchestration.warehouse."""
    text = (REPO / "orchestration" / module).read_text()
    constants = [
        value
        for name, value in vars(warehouse_module).items()
        if name.isupper() and isinstance(value, str) and re.search(rf"\b{name}\b", text)
    ]
    return relations_in(" ".join([text, *constants]))


def dashboard_relations() -> set[str]:
    """The relations the Superset datasets read: the physical tables and those of the virtual datasets' SQL."""
    found = set()
    for path in (REPO / "bi" / "superset" / "dashboard" / "datasets").rglob("*.yaml"):
        dataset = yaml.safe_load(path.read_text())
        found |= relations_in(dataset["sql"]) if dataset.get("sql") else {dataset["table_name"]}
    return found


def test_exposures_name_what_their_consumers_read(warehouse):
    exposures = exposure_dependencies(warehouse)
    assert exposures.keys() == {"lead_scoring_dashboard", "crm_export", "scoring_report"}
    assert exposures["lead_scoring_dashboard"] == dashboard_relations()
    assert exposures["crm_export"] == relations_read_by("serve/crm_export.py")
    report_reads = relations_read_by("analysis/report.py") | relations_in(
        " ".join((backtest.SUMMARY_RELATION, backtest.RATES_RELATION, backtest.LOW_SCORE_RELATION))
    )
    assert exposures["scoring_report"] == report_reads
