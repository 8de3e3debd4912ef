"""The build: check the point tables, run dbt, patch lead-level tables, and write-audit-publish on DuckDB
(publishing.py) and on PostgreSQL and Spark (engine_publishing.py)."""
