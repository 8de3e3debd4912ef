"""The Superset dashboard shipped in bi/superset/dashboard, in a real Superset (its own environment, `make
superset`'s setup and import) reading a real served warehouse read-only, loaded in headless Chromium: every
chart renders with data, the numbers are the marts' and the semantic layer's (`mf query`), and after a publish
the dashboard shows the new build. Screenshots go to artifacts/.

Not part of `make test`: `make test-superset` runs it (CI's own step), since it needs Superset's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, Response, sync_playwright
from test_dagster_ui import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, stop

from orchestration.serve.superset import DASHBOARD_SLUG, Superset, setup

from cli_warehouse import Warehouse
from conftest import REPO

pytestmark = pytest.mark.superset

END_DATE = "2026-10-31"
NEXT_DAY = "2026-11-01"
STARTUP_TIMEOUT_S = 300
CHART_COUNT = 8  # the charts of bi/superset/dashboard/charts
TOP_LEADS = 15  # the row limit of the "Top leads and why" table


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Demo data with a backtest over three past dates, published (the score history has four dates)."""
    warehouse = Warehouse(tmp_path_factory.mktemp("superset_warehouse"))
    demo = warehouse.root / "demo"
    warehouse.run(
        "leadscore", "demo-data", "--leads", "800", "--seed", "5", "--out", str(demo), "--end-date", END_DATE
    )
    warehouse.leadscore("load", str(demo))
    warehouse.run(
        "leadscore",
        "backtest",
        "--from",
        "2026-05-01",
        "--to",
        "2026-08-01",
        "--every",
        "46",
        "--as-of",
        END_DATE,
    )
    return warehouse


@pytest.fixture(scope="module")
def superset(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Superset set up and the dashboard imported as `make superset` does, then served on a free port."""
    root = tmp_path_factory.mktemp("superset")
    instance = Superset(
        project_dir=REPO,
        venv=REPO / ".superset" / "venv",
        home=root / "home",
        warehouse=warehouse.project.warehouse,
    )
    if not instance.executable.exists():
        pytest.fail(f"{instance.executable} is missing: `make test-superset` installs Superset first")
    password = setup(instance)
    port = free_port()
    log = root / "superset.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            instance.serve_command(port),
            env=instance.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _healthy(url):
            assert process.poll() is None, f"superset exited {process.returncode}:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"superset did not start:\n{log.read_text()[-4000:]}"
            time.sleep(1)
        yield url, password
    finally:
        stop(process)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def page(superset: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install the Debian package chromium (scripts/system_packages.txt)"
        )
    url, password = superset
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium_profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1200},
        )
        try:
            page = context.new_page()
            page.goto(f"{url}/login/")
            page.fill("#username", "admin")
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url(lambda u: "/login" not in u, timeout=120_000)
            yield page
        finally:
            context.close()


def load_dashboard(page: Page, url: str) -> dict[str, dict[str, Any]]:
    """Open the dashboard; return each chart's name -> the data Superset sent the browser for it."""
    responses: list[Response] = []

    def keep(response: Response) -> None:
        if "/api/v1/chart/data" in response.url:
            responses.append(response)

    page.on("response", keep)
    try:
        page.goto(f"{url}/superset/dashboard/{DASHBOARD_SLUG}/")
        deadline = time.monotonic() + 120
        while len(responses) < CHART_COUNT and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("response", keep)
    charts = page.request.get(f"{url}/api/v1/dashboard/{DASHBOARD_SLUG}/charts").json()["result"]
    names = {chart["id"]: chart["slice_name"] for chart in charts}
    assert len(names) == CHART_COUNT
    data = {}
    for response in responses:
        form_data = json.loads(
            urllib.parse.parse_qs(urllib.parse.urlparse(response.url).query)["form_data"][0]
        )
        assert response.status == 200, (names[form_data["slice_id"]], response.text()[:2000])
        data[names[form_data["slice_id"]]] = response.json()
    assert sorted(data) == sorted(names.values())
    return data


def rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    (result,) = payload["result"]
    assert not result.get("error"), result
    return result["data"]


def check_every_chart_rendered(page: Page, data: dict[str, dict[str, Any]]) -> None:
    for name, payload in data.items():
        assert rows(payload), f"{name}: no rows"
    holders = page.locator("[data-test-chart-name]")
    assert holders.count() == CHART_COUNT
    for holder in holders.all():
        name = holder.get_attribute("data-test-chart-name")
        text = holder.inner_text()
        assert "No results" not in text and "Error" not in text, (name, text[:500])
        drawn = holder.locator("canvas").count() + holder.locator("table tbody tr").count()
        big_number = holder.locator(".header-line").count()
        assert drawn or big_number, f"{name}: nothing drawn"


def test_every_chart_renders_the_marts_and_the_semantic_layer_numbers(warehouse, superset, page):
    url, _ = superset
    data = load_dashboard(page, url)
    check_every_chart_rendered(page, data)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "superset_dashboard.png"), full_page=True)

    (leads,) = warehouse.query("select count(*) from marts.lead_scores")[0]
    assert rows(data["Leads scored"])[0]["count"] == leads
    semantic = warehouse.metrics("leads_scored,mql_rate")
    assert int(semantic[0]["leads_scored"]) == leads
    assert rows(data["MQL rate"])[0]["mql_rate"] == pytest.approx(float(semantic[0]["mql_rate"]))

    tiers = dict(warehouse.query("select tier, count(*) from marts.lead_scores group by tier"))
    assert {r["tier"]: r["count"] for r in rows(data["Leads by tier"])} == tiers

    by_tier = dict(
        warehouse.query(
            "select segment_key, conversion_rate from marts.backtest_conversion_rates where segment_type = 'tier'"
        )
    )
    shown = {r["segment_key"]: r["conversion_rate"] for r in rows(data["Conversion rate by tier (backtest)"])}
    assert shown == pytest.approx(by_tier)
    semantic_tiers = warehouse.metrics("conversion_rate", "backtest_observation__tier")
    assert {
        r["backtest_observation__tier"]: float(r["conversion_rate"]) for r in semantic_tiers
    } == pytest.approx(by_tier)

    by_grade = dict(
        warehouse.query(
            "select segment_key, conversion_rate from marts.backtest_conversion_rates where segment_type = 'grade_cell'"
        )
    )
    heat = {
        r["fit_grade"] + r["engagement_grade"]: r["conversion_rate"]
        for r in rows(data["Conversion rate by grade (backtest)"])
    }
    assert heat == pytest.approx(by_grade)
    semantic_grades = warehouse.metrics("conversion_rate", "backtest_observation__grade_cell")
    assert {
        r["backtest_observation__grade_cell"]: float(r["conversion_rate"]) for r in semantic_grades
    } == pytest.approx(by_grade)

    history = warehouse.query(
        "select count(distinct score_date), sum(case when is_mql then 1 else 0 end) from history.lead_score_history"
    )[0]
    trend = rows(data["MQLs by score date (score history)"])
    assert len(trend) == history[0] == 4
    assert (
        sum(v for r in trend for k, v in r.items() if k != "score_date" and isinstance(v, int | float))
        == history[1]
    )

    top = warehouse.query(
        f"select scores.lead_id, crm.top_reasons from marts.lead_scores as scores join marts.crm_score_changes as crm "
        f"on scores.lead_id = crm.lead_id where scores.lead_rank <= {TOP_LEADS} order by scores.lead_rank"
    )
    assert [(r["lead_id"], r["top_reasons"]) for r in rows(data["Top leads and why"])] == top
    assert all(reasons for _, reasons in top)

    served = warehouse.query("select distinct build_id from marts.lead_scores")
    assert [r["build_id"] for r in rows(data["Build served"])] == [served[0][0]]


def test_after_a_publish_the_dashboard_shows_the_new_build(warehouse, superset, page):
    url, _ = superset
    before = warehouse.query("select distinct build_id from marts.lead_scores")[0][0]
    # Superset keeps reading the served file while the next build writes its working copy and publishes it.
    warehouse.leadscore("build", "--as-of", NEXT_DAY)
    after = warehouse.query("select distinct build_id from marts.lead_scores")[0][0]
    assert after != before

    data = load_dashboard(page, url)
    check_every_chart_rendered(page, data)
    (served,) = rows(data["Build served"])
    as_of = datetime.fromtimestamp(
        served["as_of_date"] / 1000, UTC
    ).date()  # Superset sends dates in epoch ms
    assert (served["build_id"], as_of.isoformat()) == (after, NEXT_DAY)
    assert after in page.locator('[data-test-chart-name="Build served"]').inner_text()
    assert len(rows(data["MQLs by score date (score history)"])) == 5  # the new score date
    page.screenshot(path=str(ARTIFACTS / "superset_dashboard_after_publish.png"), full_page=True)
    assert os.access(warehouse.project.warehouse, os.R_OK)
