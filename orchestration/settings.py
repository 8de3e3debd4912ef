"""Where things live: the dbt project, the warehouse file, the raw schema, read by every entry point."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR", Path(__file__).resolve().parent.parent))
RAW_SCHEMA = "raw"
RAW_TABLES: tuple[str, ...] = ("leads", "events", "orders")

# The raw data contract: the columns each raw table must have (more are allowed and kept).
RAW_CONTRACT: dict[str, tuple[str, ...]] = {
    "leads": (
        "lead_id",
        "email",
        "company_name",
        "industry",
        "employee_count",
        "annual_revenue",
        "country_code",
        "job_title",
        "lead_source",
        "created_at",
        "lifecycle_stage",
        "converted_at",
    ),
    "events": ("event_id", "lead_id", "event_type", "occurred_at", "properties"),
    "orders": ("order_id", "lead_id", "ordered_at", "amount", "currency", "status"),
}

# Prefix of the tables a load stages into before it swaps them in (`raw._loading_<table>`): never read by a
# build, and dropped when the next load or build starts (a killed load leaves them behind).
STAGING_PREFIX = "_loading_"

# Every load of the raw layer (time, full or append, rows per table, whether it may shrink the raw layer), a
# table of schema raw beside the three raw tables.
LOAD_LOG_TABLE = "load_log"

# Columns the loader adds to every raw row so that a reject can point back at its file and line.
LINEAGE_COLUMNS: tuple[str, ...] = ("_source_file", "_source_line", "_loaded_at")


@dataclass(frozen=True)
class Settings:
    """Runtime settings, overridable by environment variables."""

    project_dir: Path
    warehouse_path: Path

    @classmethod
    def from_env(cls) -> Settings:
        project_dir = PROJECT_DIR
        warehouse = Path(
            os.environ.get("LEADSCORE_DUCKDB_PATH", project_dir / "warehouse" / "leadscore.duckdb")
        )
        return cls(project_dir=project_dir, warehouse_path=warehouse.resolve())


def spark_dir(warehouse_path: Path) -> Path:
    """Where a Spark session target keeps its tables and Derby metastore, so that `load` and `build` (separate
    processes) share them: LEADSCORE_SPARK_DIR, else `spark/` beside the DuckDB warehouse file."""
    configured = os.environ.get("LEADSCORE_SPARK_DIR")
    return Path(configured).resolve() if configured else warehouse_path.parent / "spark"
