"""Whether a build may patch the lead-level tables instead of rebuilding them.

A refresh at an unchanged as-of date (the every-few-minutes case) only changes the scores of the leads that
have new rows: a new lead, a new event, a new order. The lead-level models (fit, engagement, negative, RFM,
lead_scores, lead_score_breakdown) then rescore only those leads (int_leads_changed), and lead_scores re-ranks
everyone and carries the new build. That is exact only when the tables hold the last published build's
result for the same as-of date, point tables and code, and every raw row that build read is still there
(an append adds rows; a full load replaces them). This module decides it before dbt starts, from what the
last published run recorded (audit.published_runs) and the raw tables now; the models themselves also check
that no row of their table comes from a later build (their meta.state lead_patch, macro
incremental_state_is_current; docs/incremental-refresh.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from orchestration.audit.quality import last_published_run
from orchestration.settings import RAW_SCHEMA, RAW_TABLES
from orchestration.warehouse import connect_read_only


@dataclass(frozen=True)
class LoadState:
    """What a build read of the raw layer: the last load time and how many raw rows were loaded by then."""

    loaded_through: datetime | None
    loaded_rows: int


def _raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [RAW_SCHEMA]
        ).fetchall()
    }
    return [table for table in RAW_TABLES if table in present]


def _union_of_loads(tables: list[str]) -> str:
    return " union all ".join(f'select _loaded_at from "{RAW_SCHEMA}"."{table}"' for table in tables)


def read_load_state(warehouse: Path) -> LoadState:
    """The raw layer's last load time and row count, read in one statement (one consistent snapshot)."""
    if not warehouse.exists():
        return LoadState(None, 0)
    with connect_read_only(warehouse) as con:
        tables = _raw_tables(con)
        if not tables:
            return LoadState(None, 0)
        loaded_through, rows = con.execute(
            f"select max(_loaded_at), count(*) from ({_union_of_loads(tables)}) as loads"
        ).fetchone()
    return LoadState(loaded_through, rows)


def rows_loaded_by(warehouse: Path, loaded_through: datetime) -> int:
    """How many raw rows now in the file were loaded at or before the given time."""
    with connect_read_only(warehouse) as con:
        tables = _raw_tables(con)
        if not tables:
            return 0
        return con.execute(
            f"select count(*) from ({_union_of_loads(tables)}) as loads where _loaded_at <= ?",
            [loaded_through],
        ).fetchone()[0]


def patch_parameters(
    warehouse: Path, versions: tuple[str, str], as_of: date, full_refresh: bool = False
) -> tuple[dict[str, str], str]:
    """The build parameters that let the lead-level models patch (empty when they must be rebuilt), and
    why."""
    if full_refresh:
        return {}, "full refresh asked"
    last = last_published_run(warehouse)
    if last is None or last.loaded_through is None or last.loaded_rows is None:
        return {}, "no published build recorded what it read"
    if last.as_of != as_of:
        return {}, f"as-of date changed ({last.as_of} -> {as_of})"
    if (last.scoring_version, last.code_version) != versions:
        return {}, "point tables or code changed"
    still_there = rows_loaded_by(warehouse, last.loaded_through)
    if still_there != last.loaded_rows:
        return {}, f"raw rows were replaced ({last.loaded_rows} read by the last build, {still_there} left)"
    return {
        "patch_base_build_id": last.build_id,
        "patch_since": last.loaded_through.isoformat(sep=" "),
    }, "leads with new rows only"
