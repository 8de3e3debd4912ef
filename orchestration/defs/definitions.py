"""The one Definitions: `dagster dev -m orchestration.defs.definitions` (project and warehouse from the
environment: DBT_PROJECT_DIR, LEADSCORE_DUCKDB_PATH)."""

from orchestration.defs.assembly import build_definitions
from orchestration.settings import Settings

defs = build_definitions(Settings.from_env())
