"""Assemble the Definitions for one dbt project and one served warehouse file (no side effect on import)."""

from __future__ import annotations

from dagster import Definitions

from orchestration.defs.assets import build_dbt_assets, build_published_asset, raw_layer
from orchestration.defs.checks import build_freshness_checks, great_expectations
from orchestration.defs.project import dbt_project_for
from orchestration.defs.resources import RawSourceResource, WarehouseResource, dbt_resource
from orchestration.defs.schedules import build_jobs, build_refresh_schedule
from orchestration.settings import Settings


def build_definitions(settings: Settings, raw_source: RawSourceResource | None = None) -> Definitions:
    """Assets, checks, jobs, schedule, sensor and resources for one dbt project and one served file."""
    dbt_project = dbt_project_for(settings.project_dir)
    dbt_build = build_dbt_assets(dbt_project)
    freshness_checks, freshness_sensor = build_freshness_checks()
    refresh, rescore = build_jobs()
    return Definitions(
        assets=[raw_layer, dbt_build, build_published_asset(dbt_build)],
        asset_checks=[great_expectations, *freshness_checks],
        jobs=[refresh, rescore],
        schedules=[build_refresh_schedule(refresh)],
        sensors=[freshness_sensor],
        resources={
            "dbt": dbt_resource(dbt_project),
            "warehouse": WarehouseResource.from_settings(settings),
            "raw_source": raw_source or RawSourceResource.from_env(),
        },
    )
