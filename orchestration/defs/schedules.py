"""Jobs and the schedule: a daily refresh (raw layer, build, checks, publish) and an on-demand re-score."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    Backoff,
    DefaultScheduleStatus,
    Jitter,
    RetryPolicy,
    ScheduleDefinition,
    define_asset_job,
)

from orchestration.defs.assets import RAW_KEYS

if TYPE_CHECKING:  # define_asset_job's return type is not exported by dagster
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

# Transient failures (a crash, a full disk) are retried; failed tests and checks are not (they raise
# Failure(allow_retries=False) or fail a blocking check, which no retry can fix).
RETRY_POLICY = RetryPolicy(max_retries=2, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


def refresh_cron() -> str:
    """LEADSCORE_REFRESH_CRON, default every day at 05:00."""
    return os.environ.get("LEADSCORE_REFRESH_CRON", "0 5 * * *")


def refresh_timezone() -> str:
    return os.environ.get("LEADSCORE_REFRESH_TIMEZONE", "UTC")


def build_jobs() -> tuple[UnresolvedAssetJobDefinition, UnresolvedAssetJobDefinition]:
    refresh = define_asset_job(
        "refresh_warehouse",
        selection=AssetSelection.all(),
        description="Load the raw layer, build and test every model, run the Great Expectations suites, and "
        "publish the served file if everything passed.",
        op_retry_policy=RETRY_POLICY,
    )
    rescore = define_asset_job(
        "rescore_warehouse",
        selection=AssetSelection.all() - AssetSelection.assets(*RAW_KEYS.values()),
        description="Re-score the raw layer already in the warehouse (after a point-table change, or as of "
        "another date: config ops.dbt_build.config.as_of), check, publish. Run on demand.",
        op_retry_policy=RETRY_POLICY,
    )
    return refresh, rescore


def automation_running() -> bool:
    """LEADSCORE_START_AUTOMATION=1 starts the daily refresh schedule and the raw-events freshness sensor
    with Dagster; otherwise they start stopped (turn them on in the UI, or set the variable), so that
    starting `dagster dev` never launches a run by itself."""
    return os.environ.get("LEADSCORE_START_AUTOMATION", "").strip().lower() in {"1", "true", "yes"}


def build_refresh_schedule(refresh: UnresolvedAssetJobDefinition) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="daily_refresh",
        job=refresh,
        cron_schedule=refresh_cron(),
        execution_timezone=refresh_timezone(),
        default_status=DefaultScheduleStatus.RUNNING
        if automation_running()
        else DefaultScheduleStatus.STOPPED,
        description="Daily refresh (LEADSCORE_REFRESH_CRON, LEADSCORE_REFRESH_TIMEZONE); stopped unless "
        "LEADSCORE_START_AUTOMATION=1.",
    )
