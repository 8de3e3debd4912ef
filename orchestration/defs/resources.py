"""Resources: where the warehouse lives, where the raw layer comes from, and dbt."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject
from pydantic import Field

from orchestration.dbt_invocation import dbt_executable
from orchestration.settings import Settings


class WarehouseResource(ConfigurableResource):
    """The dbt project and the served DuckDB file BI reads. Assets write only its working copy."""

    project_dir: str = Field(description="The dbt project folder.")
    warehouse_path: str = Field(description="The served DuckDB file (LEADSCORE_DUCKDB_PATH).")

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(project_dir=str(settings.project_dir), warehouse_path=str(settings.warehouse_path))

    def settings(self) -> Settings:
        return Settings(project_dir=Path(self.project_dir), warehouse_path=Path(self.warehouse_path))


class RawSourceResource(ConfigurableResource):
    """Where the raw layer comes from: a folder of leads/events/orders files (the user's export), or, when
    no folder is set, demo data generated up to yesterday."""

    source_dir: str = Field(
        default="", description="Folder with leads, events, orders (.csv or .parquet); empty = demo data."
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
        export), LEADSCORE_RAW_ALLOW_SHRINK (1: as `load --allow-shrink`), LEADSCORE_DEMO_LEADS,
        LEADSCORE_DEMO_SEED."""
        return cls(
            source_dir=os.environ.get("LEADSCORE_RAW_DIR", ""),
            append=os.environ.get("LEADSCORE_RAW_APPEND", "") in {"1", "true", "yes"},
            allow_shrink=os.environ.get("LEADSCORE_RAW_ALLOW_SHRINK", "") in {"1", "true", "yes"},
            demo_leads=int(os.environ.get("LEADSCORE_DEMO_LEADS", "1000")),
            demo_seed=int(os.environ.get("LEADSCORE_DEMO_SEED", "42")),
        )

    def materialise(self, demo_dir: Path) -> tuple[Path, str]:
        """The folder to load, and a description of it; demo data is (re)generated into demo_dir."""
        if self.source_dir:
            how = "appended from" if self.append else "export folder"
            return Path(self.source_dir), f"{how} {self.source_dir}"
        if self.append:
            raise ValueError(
                "append needs an export folder (source_dir, LEADSCORE_RAW_DIR): demo data is "
                "generated in full on every run"
            )
        from orchestration.demo_data import generate_demo_data

        end_date = datetime.now(UTC).date() - timedelta(days=1)
        generate_demo_data(demo_dir, leads=self.demo_leads, seed=self.demo_seed, end_date=end_date)
        return demo_dir, f"demo data: {self.demo_leads:,} leads, seed {self.demo_seed}, until {end_date}"


def dbt_resource(dbt_project: DbtProject) -> DbtCliResource:
    """dbt, run on the project (profiles.yml in the project folder)."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
