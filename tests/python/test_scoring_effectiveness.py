"""Backtest, calibration and report on demo data whose conversions come from a known hidden propensity.

One module-scoped warehouse: demo data (2,000 leads), `leadscore backtest` over six past dates with a 60-day
conversion window, observed until the demo data's last day. The checks recompute what the marts say from
the raw data, independently of the SQL.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import REPO, Project, copy_project, pipeline_db

END_DATE = "2026-10-31"
WINDOW = 60
SCORE_DATES = [date(2026, 4, 2) + timedelta(days=30 * i) for i in range(6)]  # 2026-04-02 .. 2026-08-30


class Warehouse:
    """A project copy, its warehouse and a runner for the real CLI."""

    def __init__(self, root: Path) -> None:
        self.project = Project(
            dir=copy_project(root / "project"), warehouse=root / "warehouse" / "leadscore.duckdb"
        )
        self.root = root

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [str(Path(sys.executable).with_name("leadscore")), *args],
            env=self.project.env(),
            cwd=self.project.dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"leadscore {' '.join(args)} exited {completed.returncode}\n"
                f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
            )
        return completed

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.project.warehouse), read_only=True) as con:
            return con.execute(sql).df()

    def pipeline_query(self, sql: str) -> pd.DataFrame:
        """A query on the pipeline database (raw layer, intermediate models: never served)."""
        with duckdb.connect(str(pipeline_db(self.project.warehouse)), read_only=True) as con:
            return con.execute(sql).df()


@pytest.fixture(scope="module")
def backtested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, str]:
    warehouse = Warehouse(tmp_path_factory.mktemp("effectiveness"))
    demo = warehouse.root / "demo"
    warehouse.run("demo-data", "--leads", "2000", "--seed", "7", "--out", str(demo), "--end-date", END_DATE)
    warehouse.run("load", str(demo))
    out = warehouse.run(
        "backtest",
        "--from",
        SCORE_DATES[0].isoformat(),
        "--to",
        SCORE_DATES[-1].isoformat(),
        "--every",
        "30",
        "--as-of",
        END_DATE,
        "--window",
        str(WINDOW),
    )
    return warehouse, out.stdout


def pairwise_auc(scores: np.ndarray, converted: np.ndarray) -> float:
    """P(score of a converter > score of a non-converter), ties half: counted pair by pair."""
    positives, negatives = np.sort(scores[converted]), np.sort(scores[~converted])
    below = np.searchsorted(negatives, positives, side="left")
    tied = np.searchsorted(negatives, positives, side="right") - below
    return float((below + 0.5 * tied).sum() / (len(positives) * len(negatives)))


def test_backtest_measures_conversions_after_each_score_date(backtested):
    warehouse, stdout = backtested
    assert "ROC AUC" in stdout and "score decile" in stdout

    history_dates = set(
        warehouse.query("select distinct score_date from history.lead_score_history")["score_date"]
    )
    assert {pd.Timestamp(d) for d in SCORE_DATES} | {pd.Timestamp(END_DATE)} == history_dates
    assert not list(warehouse.project.warehouse.parent.glob("*.dirty"))

    observations = warehouse.pipeline_query(
        """
        select lead_id, score_date, converted_in_window, cast(score_total as double) as score_total, tier,
            tier_order, score_decile, grade_cell
        from intermediate.int_backtest_observations
        """
    )
    # Recompute from the raw leads: who was scored, who was not yet a customer, who converted in the window.
    raw = warehouse.pipeline_query("select lead_id, converted_at from raw.leads")
    raw["converted_at"] = pd.to_datetime(raw["converted_at"], utc=True, format="ISO8601").dt.tz_localize(None)
    history = warehouse.query("select lead_id, score_date from history.lead_score_history")
    expected = history.merge(raw, on="lead_id")
    expected["window_start"] = expected["score_date"] + pd.Timedelta(days=1)
    expected = expected[
        (expected["score_date"] + pd.Timedelta(days=WINDOW) <= pd.Timestamp(END_DATE))
        & (expected["converted_at"].isna() | (expected["converted_at"] >= expected["window_start"]))
    ]
    expected["converted"] = expected["converted_at"] < expected["window_start"] + pd.Timedelta(days=WINDOW)
    merged = observations.merge(expected, on=["lead_id", "score_date"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["converted_in_window"] == merged["converted"]).all()
    # Enough conversions for the numbers to mean something.
    assert observations["converted_in_window"].sum() >= 60

    summary = warehouse.query("select * from marts.backtest_summary").iloc[0]
    converted = observations["converted_in_window"].to_numpy(bool)
    assert summary["observations"] == len(observations)
    assert summary["conversions"] == converted.sum()
    assert summary["score_dates"] == len(SCORE_DATES)
    assert summary["roc_auc"] == pytest.approx(
        pairwise_auc(observations["score_total"].to_numpy(), converted)
    )
    assert summary["roc_auc"] > 0.6  # the default point tables rank future converters well above chance

    rates = warehouse.query("select * from marts.backtest_conversion_rates")
    for segment_type, column in (
        ("tier", "tier"),
        ("score_decile", "score_decile"),
        ("grade_cell", "grade_cell"),
    ):
        segments = rates[rates["segment_type"] == segment_type].set_index("segment_key")
        counts = observations.groupby(observations[column].astype(str))["converted_in_window"].agg(
            ["size", "sum"]
        )
        assert segments["observations"].sum() == len(observations)
        assert segments.loc[counts.index, "observations"].tolist() == counts["size"].tolist()
        assert segments.loc[counts.index, "conversions"].tolist() == counts["sum"].tolist()
        lift = segments["conversion_rate"] / (converted.sum() / len(converted))
        assert np.allclose(segments["lift"], lift)
    sizes = observations.groupby(["score_date", "score_decile"]).size().unstack()
    assert (sizes.max(axis=1) - sizes.min(axis=1) <= 1).all()  # deciles split each date evenly
    top_tier = observations["tier_order"] == 1
    assert summary["top_tier_capture_rate"] == pytest.approx((converted & top_tier).sum() / converted.sum())

    low = warehouse.query("select * from marts.backtest_low_score_conversions")
    lowest = observations["tier_order"] == observations["tier_order"].max()
    assert len(low) == (converted & lowest).sum() > 0
    assert low[["fit_score", "engagement_score", "negative_score", "rfm_score"]].notna().all().all()


@pytest.fixture(scope="module")
def calibrated(backtested: tuple[Warehouse, str]) -> tuple[Warehouse, Path, str]:
    warehouse, _ = backtested
    out = warehouse.root / "calibration"
    completed = warehouse.run(
        "calibrate",
        "--from",
        SCORE_DATES[0].isoformat(),
        "--to",
        SCORE_DATES[-1].isoformat(),
        "--every",
        "30",
        "--window",
        str(WINDOW),
        "--as-of",
        END_DATE,
        "--out",
        str(out),
    )
    return warehouse, out, completed.stdout


def test_calibration_learns_what_the_defaults_miss_and_beats_them_on_held_out_leads(calibrated):
    warehouse, out, stdout = calibrated
    result = json.loads((out / "calibration.json").read_text())
    assert "ROC AUC on held-out leads" in stdout
    # Its own backtest scored the same lead-dates as `leadscore backtest` did with the same tables.
    summary = warehouse.query("select * from marts.backtest_summary").iloc[0]
    auc = result["evaluation"]["auc"]
    assert auc["all"]["lead_dates"] == summary["observations"]
    assert auc["all"]["current"] == pytest.approx(summary["roc_auc"])
    # Demo conversions come from a hidden propensity the default tables only approximate (the lead source
    # counts and they do not score it): the proposed tables, re-scored by the real build, rank the leads the
    # fit never saw better, and within 5 % of the regression they come from.
    held_out = auc["held_out"]
    # The figures for BENCHMARKS.md ("Scoring quality"), written before the assertions judge them.
    (REPO / "artifacts").mkdir(exist_ok=True)
    (REPO / "artifacts" / "demo_calibration_auc.json").write_text(json.dumps(held_out, indent=2) + "\n")
    assert held_out["conversions"] >= 20
    assert held_out["proposed"] > held_out["current"]
    assert held_out["proposed"] >= 0.95 * held_out["ceiling"]

    # Complete seed CSVs in the seeds' own columns, with rules the defaults lack.
    seeds = warehouse.project.dir / "seeds"
    for name in result["files"]:
        current = pd.read_csv(seeds / name, dtype=str, keep_default_na=False)
        proposed = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        assert list(proposed.columns) == list(current.columns), name
    rules = pd.read_csv(out / "lead_property_rules.csv", dtype=str, keep_default_na=False)
    sources = rules[rules["property"] == "lead_source"]
    assert {"blank", "otherwise"} <= set(sources["match_kind"]) and (
        sources["match_kind"] == "equals"
    ).sum() >= 6
    assert (rules["property"] == "job_title").sum() > 10  # the titles the data has, not only the patterns
    weights = pd.read_csv(out / "score_weights.csv", dtype=str, keep_default_na=False).set_index(
        "component_key"
    )
    assert weights.loc["lead_source", "weight_group"] == "adjustment"
    assert float(weights.loc["engagement_points", "weight"]) == 1
    events = pd.read_csv(out / "engagement_event_points.csv", dtype=str, keep_default_na=False)
    points = events.set_index("event_type")["points"].astype(float)
    assert points["email_sent"] == 0  # no buying stage: not engagement
    assert points["demo_request"] > points["email_open"]  # what the hidden propensity rewards
    report = (out / "calibration.md").read_text()
    for section in ("## ROC AUC", "## Calibration", "## Conversion by proposed tier", "## How to adopt"):
        assert section in report


CHARTS = (
    "score-distribution",
    "conversion-by-tier",
    "conversion-by-decile",
    "cumulative-gains",
    "grade-matrix",
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_adopting_the_calibration_and_the_report_in_a_real_browser(calibrated):
    warehouse, out, _ = calibrated
    project = warehouse.project.dir

    # The pull-request workflow: the proposed tables replace the seeds, impact shows what they change.
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
            cwd=project,
            check=True,
            capture_output=True,
        )

    git("init", "--quiet")
    git("add", ".")
    git("commit", "--quiet", "-m", "default point tables")
    for csv_file in out.glob("*.csv"):
        shutil.copyfile(csv_file, project / "seeds" / csv_file.name)
    impact = json.loads(
        warehouse.run("impact", "--base", "HEAD", "--format", "json", "--backtest-dates", "1").stdout
    )
    assert "lead_property_rules" in impact["seeds_changed"]
    assert set(impact["seeds_changed"]) <= {p.stem for p in out.glob("*.csv")}
    assert impact["tier"]["changed"] > 0

    report = warehouse.root / "report.html"
    warehouse.run("report", "--out", str(report))
    page_html = report.read_text()
    assert "<script" not in page_html and "<link" not in page_html
    assert not re.search(r"""(src|href)=["']?https?:""", page_html)  # self-contained: nothing to fetch

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make system-packages` installs it (scripts/system_packages.txt)"
        )
    from playwright.sync_api import sync_playwright

    screenshot = REPO / "artifacts" / "report.png"
    screenshot.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(report.as_uri())
            for chart in (*CHARTS, "impact-tier-matrix"):
                box = page.locator(f"svg#{chart}").bounding_box()
                assert box and box["width"] > 100 and box["height"] > 100, chart
            bars = page.locator("svg#conversion-by-decile rect.bar")
            assert bars.count() == 10
            assert all(bars.nth(i).bounding_box()["height"] > 0 for i in range(10))
            assert page.locator("svg#grade-matrix rect.cell").count() == 16
            gains = page.locator("svg#cumulative-gains path.gains").get_attribute("d")
            assert gains.count("L") == 10  # from the origin through the ten deciles
            assert page.locator("svg#score-distribution rect.bar").count() > 5
            assert page.get_by_text("Top movers").count() == 1
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
