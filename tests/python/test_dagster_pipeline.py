"""Dagster: the definitions load as `dagster dev` loads them; the refresh job, executed in process on demo
data, materialises every asset, passes every check and publishes; a failed blocking check or dbt test does
not publish (the served file stays byte-identical and readable)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    ExecuteInProcessResult,
)

from orchestration.audit.quality import SUITES
from orchestration.build.pipeline import build
from orchestration.build.publishing import prepare_pipeline, writer_lock
from orchestration.defs.assembly import build_definitions
from orchestration.defs.assets import PUBLISHED_KEY, RAW_KEYS, WAREHOUSE_POOL
from orchestration.defs.resources import RawSourceResource
from orchestration.ingest.demo_data import generate_demo_data
from orchestration.ingest.loader import load_raw
from orchestration.settings import Settings
from tests.python.test_incremental_refresh import assert_same_scores, full_rebuild_of
from tests.python.test_lead_patching import split_by_arrival

from conftest import REPO, Project, copy_project, pipeline_db
from golden_data import AS_OF, write_export

DEMO_LEADS = 400
LEAD_SCORES = AssetKey(["marts", "lead_scores"])
PATCH_AS_OF = "2026-10-31"


@dataclass
class Deployment:
    """Definitions for a private project copy and warehouse, and a Dagster instance in a temp DAGSTER_HOME."""

    settings: Settings
    defs: Definitions
    instance: DagsterInstance

    def run(self, job: str, run_config: dict | None = None) -> ExecuteInProcessResult:
        return self.defs.get_job_def(job).execute_in_process(
            instance=self.instance, run_config=run_config or {}, raise_on_error=False
        )


def dagster_home(root: Path) -> Path:
    """A DAGSTER_HOME folder under root with the project's dagster.yaml (the run queue and the pool)."""
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy2(REPO / "dagster.yaml", home / "dagster.yaml")
    return home


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("dagster")
    home = dagster_home(root)
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    settings = Settings(
        project_dir=copy_project(root / "project"), warehouse_path=root / "wh" / "leadscore.duckdb"
    )
    raw_source = RawSourceResource(demo=True, demo_leads=DEMO_LEADS, demo_seed=11)
    defs = build_definitions(settings, raw_source=raw_source)
    try:
        with DagsterInstance.get() as instance:
            yield Deployment(settings=settings, defs=defs, instance=instance)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


@pytest.fixture(scope="module")
def refreshed(deployment: Deployment) -> ExecuteInProcessResult:
    return deployment.run("refresh_warehouse")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def served(path: Path) -> tuple:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select count(*), count(distinct build_id), min(build_id), min(as_of_date) from marts.lead_scores"
        ).fetchone()


def failed_checks(result: ExecuteInProcessResult) -> set[str]:
    return {e.asset_check_key.to_user_string() for e in result.get_asset_check_evaluations() if not e.passed}


def step_attempts(result: ExecuteInProcessResult, step_key: str) -> int:
    return sum(
        1
        for event in result.all_events
        if event.step_key == step_key and event.event_type == DagsterEventType.STEP_START
    )


def test_definitions_load_as_dagster_dev_loads_them():
    from orchestration.defs.definitions import defs

    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {LEAD_SCORES, PUBLISHED_KEY, *RAW_KEYS.values()} <= keys
    # The raw layer is upstream of the dbt sources: same keys, wired to staging.
    assert RAW_KEYS["events"] in graph.get(AssetKey(["staging", "stg_raw__events"])).parent_keys
    # Groups by layer.
    groups = {key.path[0]: graph.get(key).group_name for key in keys if len(key.path) == 2}
    assert groups == {
        "raw": "raw",
        "point_tables": "point_tables",
        "staging": "staging",
        "intermediate": "intermediate",
        "marts": "marts",
        "history": "history",
    }
    # Everything that writes the warehouse is in the one pool.
    for key in (PUBLISHED_KEY, LEAD_SCORES, RAW_KEYS["leads"]):
        assert graph.get(key).pools == {WAREHOUSE_POOL}
    # dbt tests and the Great Expectations suites are asset checks; the suites are blocking.
    checks = graph.asset_check_keys
    assert AssetCheckKey(LEAD_SCORES, "unique_lead_scores_lead_rank") in checks
    assert AssetCheckKey(RAW_KEYS["events"], "freshness_check") in checks
    for suite in SUITES:
        key = AssetCheckKey(AssetKey(["marts", suite.mart]), suite.key)
        assert graph.get_check_spec(key).blocking, key
    schedule = defs.get_schedule_def("daily_refresh")
    assert schedule.cron_schedule == "0 5 * * *" and schedule.job_name == "refresh_warehouse"
    assert defs.get_job_def("rescore_warehouse").op_retry_policy is not None
    assert defs.get_sensor_def("raw_events_freshness_sensor")


def test_refresh_materialises_every_asset_passes_every_check_and_publishes(
    deployment: Deployment, refreshed: ExecuteInProcessResult
):
    assert refreshed.success
    graph = deployment.defs.resolve_asset_graph()
    materialised = {event.asset_key for event in refreshed.get_asset_materialization_events()}
    assert materialised == graph.get_all_asset_keys()
    evaluations = refreshed.get_asset_check_evaluations()
    assert {e.asset_check_key for e in evaluations} == set(graph.asset_check_keys)
    assert failed_checks(refreshed) == set()

    warehouse = deployment.settings.warehouse_path
    [published] = refreshed.asset_materializations_for_node("published_warehouse")
    assert published.metadata["path"].value == str(warehouse)
    count, builds, build_id, as_of = served(warehouse)
    assert count > 0.9 * DEMO_LEADS and builds == 1
    assert build_id == published.metadata["build_id"].value
    assert as_of == datetime.now(UTC).date()
    assert not warehouse.with_name(warehouse.name + ".publishing").exists()
    assert pipeline_db(warehouse).exists()
    # Freshness of raw events is the newest event's time (demo data runs until yesterday).
    [events] = [e for e in refreshed.get_asset_materialization_events() if e.asset_key == RAW_KEYS["events"]]
    newest = events.materialization.metadata["dagster/last_updated_timestamp"].value
    assert datetime.now(UTC).timestamp() - newest < timedelta(hours=48).total_seconds()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select build_id from audit.published_runs").fetchall() == [(build_id,)]


def test_a_failed_blocking_check_does_not_publish(deployment: Deployment, refreshed: ExecuteInProcessResult):
    """Re-score 30 days earlier with a zero drift bound: the drift suite fails, publish never runs."""
    assert refreshed.success
    warehouse = deployment.settings.warehouse_path
    before, rows_before = digest(warehouse), served(warehouse)
    earlier = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    result = deployment.run(
        "rescore_warehouse",
        {
            "ops": {
                "dbt_build": {"config": {"as_of": earlier}},
                "great_expectations": {"config": {"max_mean_score_drift": 0.0}},
            }
        },
    )
    assert not result.success
    assert failed_checks(result) == {"marts/lead_scores:drift"}
    assert step_attempts(result, "great_expectations") == 1
    assert not result.asset_materializations_for_node("published_warehouse")
    assert digest(warehouse) == before
    assert served(warehouse) == rows_before


def test_a_failed_dbt_test_does_not_publish_and_is_not_retried(
    deployment: Deployment, refreshed: ExecuteInProcessResult
):
    assert refreshed.success
    warehouse = deployment.settings.warehouse_path
    before, rows_before = digest(warehouse), served(warehouse)
    weights = deployment.settings.project_dir / "seeds" / "score_weights.csv"
    original = weights.read_text()
    weights.write_text(original.replace("engagement,base,0.35", "engagement,base,0.45"))
    try:
        result = deployment.run("rescore_warehouse")
    finally:
        weights.write_text(original)
    assert not result.success
    assert "point_tables/score_weights:score_weights_base_add_up_to_one" in failed_checks(result)
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "dbt_build"
    assert "not published: the previous version is still served" in str(failure.event_specific_data)
    assert step_attempts(result, "dbt_build") == 1  # deterministic failure: the retry policy is bypassed
    assert not result.asset_materializations_for_node("published_warehouse")
    assert digest(warehouse) == before
    assert served(warehouse) == rows_before


def test_a_scheduled_refresh_of_an_incremental_export_patches_like_the_cli(tmp_path: Path):
    """An export folder that holds only the new rows (RawSourceResource.append): the refresh job appends
    them, plans the build as `leadscore build` does (seeds and unit tests skipped, only the leads with new
    rows rescored), records what it read at publish, and serves the scores a full rebuild gives."""
    full_data, base, day = (tmp_path / name for name in ("full", "base", "day"))
    generate_demo_data(full_data, leads=DEMO_LEADS, seed=11, end_date=date.fromisoformat(PATCH_AS_OF))
    split_by_arrival(full_data, base, day)
    home = dagster_home(tmp_path)
    settings = Settings(
        project_dir=copy_project(tmp_path / "project"), warehouse_path=tmp_path / "wh" / "leadscore.duckdb"
    )
    run_config = {
        "ops": {
            "dbt_build": {"config": {"as_of": PATCH_AS_OF}},
            "great_expectations": {"config": {"accept_drift": True}},
        }
    }
    with DagsterInstance.ephemeral(tempdir=str(home)) as instance:
        first = build_definitions(settings, raw_source=RawSourceResource(source_dir=str(base)))
        assert (
            first.get_job_def("refresh_warehouse")
            .execute_in_process(instance=instance, run_config=run_config)
            .success
        )
        appended = build_definitions(settings, raw_source=RawSourceResource(source_dir=str(day), append=True))
        result = appended.get_job_def("refresh_warehouse").execute_in_process(
            instance=instance, run_config=run_config
        )
    assert result.success
    materialised = {event.asset_key for event in result.get_asset_materialization_events()}
    assert LEAD_SCORES in materialised and PUBLISHED_KEY in materialised
    assert not {key for key in materialised if key.path[0] == "point_tables"}, "the seeds were reloaded"

    warehouse = settings.warehouse_path
    with duckdb.connect(str(warehouse), read_only=True) as con:
        runs = con.execute(
            "select build_id, loaded_rows from audit.published_runs order by published_at"
        ).fetchall()
        con.execute(f"attach '{pipeline_db(warehouse)}' as pipeline (read_only)")
        raw_rows = sum(
            con.execute(f"select count(*) from pipeline.raw.{table}").fetchone()[0] for table in RAW_KEYS
        )
        writers = con.execute(
            "select count(distinct lead_id) filter (where build_id = ?), count(distinct lead_id) "
            "from marts.lead_score_breakdown",
            [runs[0][0]],
        ).fetchone()
    assert len(runs) == 2 and runs[1][1] == raw_rows, (runs, raw_rows)
    # Patched: the leads without new rows keep the breakdown rows of the first build.
    assert 0 < writers[0] < writers[1], writers
    project = Project(dir=settings.project_dir, warehouse=warehouse)
    assert (
        assert_same_scores(warehouse, full_rebuild_of(project, warehouse, PATCH_AS_OF, tmp_path / "f")) > 300
    )


def test_dagster_never_loads_demo_data_over_a_users_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A warehouse holding a user's export, loaded and published by the CLI's functions; the definitions as
    `dagster dev` loads them (nothing configured): the schedule and the freshness sensor start stopped, the
    refresh job fails on its raw layer saying what to set, and asking for demo data is refused: both files
    untouched."""
    for name in ("LEADSCORE_RAW_DIR", "LEADSCORE_DEMO_DATA", "LEADSCORE_START_AUTOMATION"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        project_dir=copy_project(tmp_path / "project"), warehouse_path=tmp_path / "wh" / "leadscore.duckdb"
    )
    with writer_lock(settings):
        load_raw(write_export(tmp_path / "export"), prepare_pipeline(settings))
    build(settings, as_of=date.fromisoformat(AS_OF))
    pipeline = pipeline_db(settings.warehouse_path)
    before = digest(settings.warehouse_path), digest(pipeline)

    defs = build_definitions(settings)
    assert defs.get_schedule_def("daily_refresh").default_status == DefaultScheduleStatus.STOPPED
    assert defs.get_sensor_def("raw_events_freshness_sensor").default_status == DefaultSensorStatus.STOPPED
    home = dagster_home(tmp_path)
    with DagsterInstance.ephemeral(tempdir=str(home)) as instance:
        unconfigured = defs.get_job_def("refresh_warehouse").execute_in_process(
            instance=instance, raise_on_error=False
        )
        demo = build_definitions(settings, raw_source=RawSourceResource(demo=True, demo_leads=50))
        refused = demo.get_job_def("refresh_warehouse").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not unconfigured.success and not refused.success
    assert "no export folder to load" in step_failure(unconfigured, "raw_layer")
    assert "holds a raw layer that is not demo data" in step_failure(refused, "raw_layer")
    assert (digest(settings.warehouse_path), digest(pipeline)) == before
    assert not (settings.warehouse_path.parent / "demo-raw").exists()


def step_failure(result: ExecuteInProcessResult, step_key: str) -> str:
    [failure] = [
        event
        for event in result.all_events
        if event.step_key == step_key and event.event_type == DagsterEventType.STEP_FAILURE
    ]
    return str(failure.step_failure_data.error.message)
