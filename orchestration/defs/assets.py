"""Assets: the raw layer (upstream of the dbt sources), the dbt project, and the published warehouse file.

Every asset that writes the warehouse runs in the one concurrency pool WAREHOUSE_POOL and takes the same
file lock as `leadscore load` / `leadscore build`, so Dagster runs and the CLI never write at the same time.
"""

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from orchestration.build.dbt_invocation import read_failures, split_build_parameters
from orchestration.build.pipeline import (
    BuildError,
    check_as_of,
    describe_failures,
    ensure_leads_scored,
    not_published_note,
    plan_build,
    publish_audited,
    save_plan,
    seed_changes,
)
from orchestration.build.publishing import (
    NotAuditedError,
    demo_marker,
    mark_passed,
    pipeline_path,
    prepare_pipeline,
    start_build,
    writer_lock,
)
from orchestration.build.seed_check import SeedError, check_seeds
from orchestration.defs.resources import RawSourceResource, WarehouseResource
from orchestration.ingest.loader import RawLoadError, load_raw
from orchestration.settings import RAW_SCHEMA, RAW_TABLES
from orchestration.warehouse import LEAD_SCORES, connect_read_only

WAREHOUSE_POOL = "leadscore_warehouse"
RAW_KEYS: dict[str, AssetKey] = {table: AssetKey([RAW_SCHEMA, table]) for table in RAW_TABLES}
PUBLISHED_KEY = AssetKey(["published_warehouse"])
LAST_UPDATED = "dagster/last_updated_timestamp"


class LayerTranslator(DagsterDbtTranslator):
    """dbt nodes grouped by the schema they are written to (the first part of their asset key): point_tables
    (seeds), staging, intermediate, marts (models/marts/scoring, backtest, rejects), history
    (models/marts/history)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("config", {}).get("schema") or "dbt"


class BuildConfig(Config):
    """Run configuration of the dbt build."""

    as_of: str = Field(default="", description="Score as of this date, YYYY-MM-DD; empty = today (UTC).")
    full_refresh: bool = Field(
        default=False,
        description="Rebuild every incremental model and run every test (`leadscore build --full-refresh`).",
    )

    def as_of_date(self) -> date:
        if not self.as_of:
            return datetime.now(UTC).date()
        try:
            as_of = date.fromisoformat(self.as_of)
        except ValueError as exc:
            message = f"as_of: expected a date YYYY-MM-DD, got {self.as_of!r}"
            raise Failure(message, allow_retries=False) from exc
        try:
            check_as_of(as_of)
        except BuildError as exc:
            raise Failure(str(exc), allow_retries=False) from exc
        return as_of


@multi_asset(
    name="raw_layer",
    specs=[
        AssetSpec(
            key,
            group_name="raw",
            description=f"Raw {table} as exported (text columns and file/line lineage), loaded all or "
            "nothing into the pipeline database (never served).",
            kinds={"duckdb"},
        )
        for table, key in RAW_KEYS.items()
    ],
    pool=WAREHOUSE_POOL,
)
def raw_layer(
    context: AssetExecutionContext, warehouse: WarehouseResource, raw_source: RawSourceResource
) -> Iterator[MaterializeResult]:
    """Load the raw layer (the export folder, or fresh demo data) into the pipeline database: in full, or
    appended when the source is an incremental export (raw_source.append)."""
    settings = warehouse.settings()
    with writer_lock(settings):
        try:
            source, described = raw_source.materialise(settings)
        except ValueError as exc:
            raise Failure(f"raw source: {exc}", allow_retries=False) from exc
        working = prepare_pipeline(settings)
        try:
            counts = load_raw(source, working, append=raw_source.append, allow_shrink=raw_source.allow_shrink)
        except RawLoadError as exc:
            raise Failure(f"load failed, nothing loaded: {exc}", allow_retries=False) from exc
        if raw_source.source_dir:
            demo_marker(settings).unlink(missing_ok=True)
        else:
            demo_marker(settings).touch()
        newest_event = newest_event_time(working)
        totals = raw_row_counts(working)
    context.log.info(f"loaded {described} into {working}")
    for table, key in RAW_KEYS.items():
        metadata: dict[str, Any] = {
            "rows": totals[table],
            "rows loaded": counts.get(table, 0),
            "source": described,
        }
        if table == "events" and newest_event is not None:
            # Freshness of raw events is the time of the newest event, not the time of the load.
            metadata[LAST_UPDATED] = MetadataValue.timestamp(newest_event)
        yield MaterializeResult(asset_key=key, metadata=metadata)


def raw_row_counts(warehouse: Path) -> dict[str, int]:
    """Rows of each raw table in the warehouse file."""
    with connect_read_only(warehouse) as con:
        return {
            table: con.execute(f'select count(*) from {RAW_SCHEMA}."{table}"').fetchone()[0]
            for table in RAW_KEYS
        }


def newest_event_time(warehouse: Path) -> datetime | None:
    """The newest parseable, not-in-the-future event time of the raw layer (UTC when no offset)."""
    with connect_read_only(warehouse) as con:
        con.execute("set TimeZone = 'UTC'")
        newest = con.execute(
            f"""
            select max(occurred) from (
                select try_cast(occurred_at as timestamptz) as occurred from {RAW_SCHEMA}.events
            ) where occurred <= now()
            """
        ).fetchone()[0]
    return newest


@contextmanager
def _dbt_environment(path: Path, dbt_vars: Mapping[str, str]) -> Iterator[list[str]]:
    """dagster-dbt passes the process environment to dbt: profiles.yml reads the file from it, and the build
    parameters travel in it as they do for `leadscore build` (split_build_parameters). Yields the --vars
    arguments for the other vars."""
    parameter_env, other_vars = split_build_parameters(dbt_vars)
    overrides = {"LEADSCORE_DUCKDB_PATH": str(path), **parameter_env}
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield ["--vars", json.dumps(other_vars)] if other_vars else []
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_dbt_assets(dbt_project: DbtProject) -> AssetsDefinition:
    """The dbt project as assets (seeds, staging, intermediate, marts, history); dbt tests as asset checks.
    Same vars and same pipeline database as `leadscore build`."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=LayerTranslator(),
        pool=WAREHOUSE_POOL,
        name="dbt_build",
    )
    def dbt_build(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: WarehouseResource,
        config: BuildConfig,
    ) -> Iterator[Any]:
        settings = warehouse.settings()
        try:
            check_seeds(settings.project_dir)
        except SeedError as exc:
            raise Failure(f"{exc}\n{not_published_note(settings)}", allow_retries=False) from exc
        as_of = config.as_of_date()
        with writer_lock(settings):
            working = start_build(settings)
            # The same plan as `leadscore build`: what to skip, whether to patch the lead tables, and what
            # the published_warehouse step records of this build.
            plan = plan_build(settings, working, as_of, full_refresh=config.full_refresh)
            save_plan(settings, plan)
            build_id = plan.build_id
            context.log.info(
                f"build {build_id} as of {as_of} in {working}; lead tables: {plan.lead_tables_note()}"
                + (f"; skipped: {plan.skipped}" if plan.skipped else "")
            )
            with _dbt_environment(working, plan.dbt_vars) as vars_args:
                invocation = dbt.cli(
                    [*plan.dbt_args, *vars_args],
                    context=context,
                    raise_on_error=False,
                )
            yield from invocation.stream()
            if not invocation.is_successful():
                failures = read_failures(invocation.target_path / "run_results.json", working)
                error = invocation.get_error()
                raise Failure(
                    describe_failures(failures, str(error or ""), seed_changes(settings, failures))
                    + "\n"
                    + not_published_note(settings),
                    # Failed tests or models are deterministic: retrying cannot help. A crash can.
                    allow_retries=not failures,
                )
            try:
                ensure_leads_scored(working, as_of)
            except BuildError as exc:
                raise Failure(str(exc), allow_retries=False) from exc
            mark_passed(settings, "built", build_id)
        shutil.rmtree(invocation.target_path, ignore_errors=True)

    return dbt_build


def build_published_asset(dbt_assets_def: AssetsDefinition) -> AssetsDefinition:
    """The served file: published only when every upstream asset and blocking check passed."""
    served_layers = {"marts", "history"}
    deps = sorted((key for key in dbt_assets_def.keys if key.path[0] in served_layers), key=lambda k: k.path)

    @asset(
        key=PUBLISHED_KEY,
        deps=deps,
        group_name="publish",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description="The DuckDB file BI tools read (read-only): the served relations of the audited build "
        "(marts, score history, point tables, audit), exported from the pipeline database into a new file "
        "moved onto the served path with one atomic os.replace. Never written in place.",
    )
    def published_warehouse(
        context: AssetExecutionContext, warehouse: WarehouseResource
    ) -> MaterializeResult:
        settings = warehouse.settings()
        with writer_lock(settings):
            pipeline = pipeline_path(settings)
            if not pipeline.exists():
                raise Failure("nothing to publish: no pipeline database", allow_retries=False)
            build_id, as_of, leads = built_mart(pipeline)
            try:
                path = publish_audited(settings, build_id, as_of)
            except NotAuditedError as exc:
                raise Failure(f"{exc}\n{not_published_note(settings)}", allow_retries=False) from exc
        context.log.info(f"published: {path}")
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(path)),
                "build_id": build_id,
                "as_of": as_of.isoformat(),
                "leads scored": leads,
            }
        )

    return published_warehouse


def built_mart(warehouse: Path) -> tuple[str, date, int]:
    """The build id, as-of date and row count of the mart in a warehouse file."""
    with connect_read_only(warehouse) as con:
        build_id, as_of, leads = con.execute(
            f"select min(build_id), min(as_of_date), count(*) from {LEAD_SCORES}"
        ).fetchone()
    return str(build_id), as_of, int(leads)
