"""Dagster orchestration of the warehouse: `dagster dev -m orchestration.defs.definitions`.

One module per concern: the dbt project (project.py), resources, assets (raw layer, dbt, publish), checks
(Great Expectations, freshness), jobs and schedule (schedules.py), and the one Definitions (assembled in
assembly.py, loaded from definitions.py).
"""
