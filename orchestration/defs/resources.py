"""Resources: where the warehouse lives, where the raw layer comes from, and dbt."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject
from pydantic import Field

from orchestration.build.dbt_invocation import dbt_executable
from orchestration.build.publishing import demo_marker, pipeline_path
from orchestration.settings import RAW_SCHEMA, Settings
from orchestration.warehouse import connect_read_only


class WarehouseResource(ConfigurableResource):
    """The dbt project and the served DuckDB file BI reads. Assets write only the pipeline database beside
    it."""

    project_dir: str = Field(description="The dbt project folder.")
    warehouse_path: str = Field(description="The served DuckDB file (LEADSCORE_DUCKDB_PATH).")

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(project_dir=str(settings.project_dir), warehouse_path=str(settings.warehouse_path))

    def settings(self) -> Settings:
        return Settings(project_dir=Path(self.project_dir), warehouse_path=Path(self.warehouse_path))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


class RawSourceError(ValueError):
    """No raw source to load, or demo data asked for over a user's data; the message says what to set."""


class RawSourceResource(ConfigurableResource):
    """Where the raw layer comes from: a folder of leads/events/orders files (the user's export), or demo data
    generated up to yesterday, only when asked for (demo) and never over a raw layer a user loaded."""

    source_dir: str = Field(default="", description="Folder with leads, events, orders (.csv or .parquet).")
    demo: bool = Field(
        default=False,
        description="With no source folder, generate demo data and load it (LEADSCORE_DEMO_DATA=1). Refused "
        "when the warehouse holds a raw layer that is not demo data.",
    )
    demo_leads: int = Field(default=1000, description="Leads to generate when there is no source folder.")
    demo_seed: int = Field(default=42, description="Random seed of the demo data.")
    append: bool = Field(
        default=False,
        description="The export folder holds only the rows new since the last run (an incremental export): "
        "append them, as `leadscore load --append`, so that the build patches the lead tables instead of "
        "rebuilding them. Rows appended twice are rejected as duplicates (marts.rejected_rows).",
    )

    allow_shrink: bool = Field(
        default=False,
        description="Accept a file with no rows and raw tables much smaller than the published ones (a "
        "deliberate purge), as `leadscore load --allow-shrink`; otherwise both are refused.",
    )

    @classmethod
    def from_env(cls) -> RawSourceResource:
        """LEADSCORE_RAW_DIR (the export folder), LEADSCORE_RAW_APPEND (1: the folder is an incremental
        export), LEADSCORE_RAW_ALLOW_SHRINK (1: as `load --allow-shrink`), LEADSCORE_DEMO_DATA (1: demo data
        when there is no folder), LEADSCORE_DEMO_LEADS, LEADSCORE_DEMO_SEED."""
        return cls(
            source_dir=os.environ.get("LEADSCORE_RAW_DIR", ""),
            demo=_flag("LEADSCORE_DEMO_DATA"),
            append=_flag("LEADSCORE_RAW_APPEND"),
            allow_shrink=_flag("LEADSCORE_RAW_ALLOW_SHRINK"),
            demo_leads=int(os.environ.get("LEADSCORE_DEMO_LEADS", "1000")),
            demo_seed=int(os.environ.get("LEADSCORE_DEMO_SEED", "42")),
        )

    def materialise(self, settings: Settings) -> tuple[Path, str]:
        """The folder to load, and a description of it; demo data is (re)generated beside the warehouse.
        Raise RawSourceError when there is nothing to load, or demo data would replace a user's raw layer."""
        if self.source_dir:
            how = "appended from" if self.append else "export folder"
            return Path(self.source_dir), f"{how} {self.source_dir}"
        if not self.demo:
            raise RawSourceError(
                "no export folder to load: set source_dir (LEADSCORE_RAW_DIR) to the folder of leads, events "
                "and orders files; demo data is loaded only when asked for (demo, LEADSCORE_DEMO_DATA=1). "
                "The rescore_warehouse job scores the raw layer already loaded"
            )
        if self.append:
            raise RawSourceError(
                "append needs an export folder (source_dir, LEADSCORE_RAW_DIR): demo data is "
                "generated in full on every run"
            )
        if holds_user_data(settings):
            raise RawSourceError(
                f"{pipeline_path(settings)} holds a raw layer that is not demo data: demo data is never "
                "loaded over it. Load your export (LEADSCORE_RAW_DIR), or use another LEADSCORE_DUCKDB_PATH "
                "for the demo"
            )
        from orchestration.ingest.demo_data import generate_demo_data

        demo_dir = settings.warehouse_path.parent / "demo-raw"
        end_date = datetime.now(UTC).date() - timedelta(days=1)
        generate_demo_data(demo_dir, leads=self.demo_leads, seed=self.demo_seed, end_date=end_date)
        return demo_dir, f"demo data: {self.demo_leads:,} leads, seed {self.demo_seed}, until {end_date}"


def holds_user_data(settings: Settings) -> bool:
    """Whether the warehouse holds raw rows that are not demo data: a pipeline database with raw leads and no
    demo marker, or a served file without a pipeline database (published before it existed)."""
    pipeline = pipeline_path(settings)
    if not pipeline.exists():
        return settings.warehouse_path.exists()
    if demo_marker(settings).exists():
        return False
    with connect_read_only(pipeline) as con:
        present = con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database()"
            " and schema_name = ? and table_name = 'leads'",
            [RAW_SCHEMA],
        ).fetchone()[0]
        return bool(present) and con.execute(f"select count(*) from {RAW_SCHEMA}.leads").fetchone()[0] > 0


def dbt_resource(dbt_project: DbtProject) -> DbtCliResource:
    """dbt, run on the project (profiles.yml in the project folder)."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
