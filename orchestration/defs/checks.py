"""Asset checks: the Great Expectations suites (blocking: a failure stops the publish) and the freshness
of raw events. The suites are the same functions `leadscore build` runs (orchestration/audit/quality.py)."""

import os
import warnings
from collections.abc import Iterator, Sequence
from datetime import timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Config,
    DefaultSensorStatus,
    SensorDefinition,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    multi_asset_check,
)
from pydantic import Field

from orchestration.audit.publish_guards import check_against_published
from orchestration.audit.quality import (
    GUARD_SUITE_KEYS,
    SUITES,
    SUITES_BY_TITLE,
    DriftBounds,
    Outcome,
    validate_marts,
)
from orchestration.build.publishing import mark_passed, passed_build, pipeline_path, writer_lock
from orchestration.defs.assets import RAW_KEYS, WAREHOUSE_POOL, built_mart
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.schedules import automation_running

MARTS_SCHEMA = "marts"


class QualityConfig(Config):
    """Run configuration of the Great Expectations checks."""

    accept_drift: bool = Field(
        default=False, description="Publish even if the mean score or MQL share moved beyond the bounds."
    )
    max_mean_score_drift: float | None = Field(
        default=None, description="Drift bound of the mean score (default LEADSCORE_DRIFT_MEAN_SCORE or 2)."
    )
    max_mql_share_drift: float | None = Field(
        default=None, description="Drift bound of the MQL share (default LEADSCORE_DRIFT_MQL_SHARE or 0.10)."
    )
    accept_rejects: bool = Field(
        default=False,
        description="Publish even if a point-table edit leaves values of the data unlisted or the share of "
        "rejected rows rose past LEADSCORE_MAX_REJECTED_SHARE_RISE (`leadscore build --accept-rejects`).",
    )

    def bounds(self) -> DriftBounds:
        default = DriftBounds()
        return DriftBounds(
            mean_score=default.mean_score if self.max_mean_score_drift is None else self.max_mean_score_drift,
            mql_share=default.mql_share if self.max_mql_share_drift is None else self.max_mql_share_drift,
        )


def mart_key(mart: str) -> AssetKey:
    return AssetKey([MARTS_SCHEMA, mart])


@multi_asset_check(
    name="great_expectations",
    specs=[
        AssetCheckSpec(suite.key, asset=mart_key(suite.mart), blocking=True, description=suite.description)
        for suite in SUITES
    ],
    pool=WAREHOUSE_POOL,
)
def great_expectations(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, config: QualityConfig
) -> Iterator[AssetCheckResult]:
    """Validate the marts of the pipeline database (the build about to be published) with the GX suites;
    mark it audited only if dbt built it and every expectation passed. Without a pipeline database, the
    served file."""
    settings = warehouse.settings()
    with writer_lock(settings):
        working = pipeline_path(settings)
        target = working if working.exists() else settings.warehouse_path
        outcomes = validate_marts(target, bounds=config.bounds(), check_drift=not config.accept_drift)
        if target == working:
            outcomes += check_against_published(
                working, settings.warehouse_path, accept_rejects=config.accept_rejects
            )
        build_id, _, _ = built_mart(target)
        passed = all(outcome.success for outcome in outcomes)
        if target == working and passed and passed_build(settings, "built") == build_id:
            mark_passed(settings, "audited", build_id)
    context.log.info(f"{sum(o.success for o in outcomes)}/{len(outcomes)} expectations passed on {target}")
    yield from suite_results(outcomes, accept_drift=config.accept_drift, accept_rejects=config.accept_rejects)


def suite_results(
    outcomes: Sequence[Outcome], accept_drift: bool, accept_rejects: bool = False
) -> Iterator[AssetCheckResult]:
    """One check result per suite, failed expectations listed in its metadata."""
    by_suite: dict[str, list[Outcome]] = {suite.title: [] for suite in SUITES}
    for outcome in outcomes:
        by_suite[outcome.suite].append(outcome)
    for title, results in by_suite.items():
        suite = SUITES_BY_TITLE[title]
        failed = [o for o in results if not o.success]
        if results:
            description = f"{len(results) - len(failed)}/{len(results)} expectations passed"
        elif suite.key == "drift":
            description = "drift accepted for this run" if accept_drift else "no previous published run"
        elif suite.key in GUARD_SUITE_KEYS:
            description = "rejects accepted for this run" if accept_rejects else "no previous published run"
        else:
            description = "no expectations"
        yield AssetCheckResult(
            asset_key=mart_key(suite.mart),
            check_name=suite.key,
            passed=not failed,
            severity=AssetCheckSeverity.ERROR,
            description=description,
            metadata={
                "expectations": len(results),
                "failed": [f"{o.expectation}: {o.detail}" for o in failed],
            },
        )


def raw_events_max_age() -> timedelta:
    """How old the newest raw event may be (LEADSCORE_RAW_EVENTS_MAX_AGE_HOURS, default 48)."""
    return timedelta(hours=float(os.environ.get("LEADSCORE_RAW_EVENTS_MAX_AGE_HOURS", "48")))


def build_freshness_checks() -> tuple[Sequence[AssetChecksDefinition], SensorDefinition]:
    """Raw events are fresh when the newest event is younger than the bound (warning, not blocking: a late
    export still gets scored, and the warning says so). The sensor re-evaluates them between refreshes."""
    with warnings.catch_warnings():
        # Superseded in 1.12 by FreshnessPolicy (asset health; preview, off unless enabled in dagster.yaml);
        # the checks stay: they are asset checks, run in the refresh job and show on the asset's Checks tab.
        warnings.simplefilter("ignore", SupersessionWarning)
        checks = build_last_update_freshness_checks(
            assets=[RAW_KEYS["events"]], lower_bound_delta=raw_events_max_age()
        )
        sensor = build_sensor_for_freshness_checks(
            freshness_checks=checks,
            minimum_interval_seconds=3600,
            name="raw_events_freshness_sensor",
            default_status=DefaultSensorStatus.RUNNING
            if automation_running()
            else DefaultSensorStatus.STOPPED,
        )
    return checks, sensor
