"""Losses a build must not publish without saying so: the checks against the last published build.

The dbt tests and the Great Expectations suites check that the marts agree with the raw layer and the point
tables. A loss that is consistent passes them: an export that arrived empty or cut short, or a point-table
edit that turns valid rows into rejects. These checks compare the pipeline database with the served file (the
last published build: the raw row counts it recorded, its point tables and rejected rows) and block publishing
when:

* **raw row counts**: a raw table lost more than LEADSCORE_MAX_SHRINK of its rows (default 0.25, a quarter)
  and no load since was made with `leadscore load --allow-shrink`;
* **seed values**: a point-table edit orphans values the data carries: a value the published seed listed (an
  event type, a currency, a country name) that is no longer in the seed, so the rows carrying it are now
  rejected (the message names the seed, the value and the row count);
* **rejected share**: the share of a raw table's rows that are rejected rose by more than
  LEADSCORE_MAX_REJECTED_SHARE_RISE (default 0.05, five percentage points).

The last two are published anyway with `leadscore build --accept-rejects` (a deliberate change). The first
publish of a file has nothing to compare with: the build's own tests and audit apply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.audit.quality import RAW_LAYER_TABLE, SUITES, Outcome
from orchestration.build.publishing import quoted_path
from orchestration.settings import LOAD_LOG_TABLE, RAW_SCHEMA, RAW_TABLES
from orchestration.warehouse import connect_read_only

_TITLES = {suite.key: suite.title for suite in SUITES}
ROW_COUNTS, SEED_VALUES, REJECTED_SHARE = (
    _TITLES["raw_row_counts"],
    _TITLES["seed_values"],
    _TITLES["rejected_share"],
)
SHOWN_VALUES = 5
RAW_LAYER_NAME = RAW_LAYER_TABLE.split(".")[1]


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class GuardBounds:
    """How far a build may move from the last published one before it is held back."""

    max_shrink: float = field(default_factory=lambda: _env_float("LEADSCORE_MAX_SHRINK", 0.25))
    max_rejected_share_rise: float = field(
        default_factory=lambda: _env_float("LEADSCORE_MAX_REJECTED_SHARE_RISE", 0.05)
    )


@dataclass(frozen=True)
class SeedReference:
    """Raw rows whose value must be listed in a point table; a row whose value is not is rejected with
    `reason`. `seed_key` is the seed's value as the validation matches it, `value` the validated model's."""

    seed: str
    seed_key: str
    reason: str
    table: str
    relation: str
    value: str
    noun: str


SEED_REFERENCES: tuple[SeedReference, ...] = (
    SeedReference(
        "engagement_event_points",
        "event_type",
        "unknown_event_type",
        "events",
        "intermediate.int_events_validated",
        "event_type",
        "event type",
    ),
    SeedReference(
        "fx_rates",
        "currency",
        "unknown_currency",
        "orders",
        "intermediate.int_orders_validated",
        "currency",
        "currency",
    ),
    SeedReference(
        "country_names",
        "upper(trim(country_name))",
        "unknown_country",
        "leads",
        "intermediate.int_leads_validated",
        "country_value",
        "country name",
    ),
)
REFERENCES_BY_REASON = {reference.reason: reference for reference in SEED_REFERENCES}


def check_against_published(
    working: Path, served: Path, bounds: GuardBounds | None = None, accept_rejects: bool = False
) -> list[Outcome]:
    """Every guard's outcome for the pipeline database against the served file (empty when nothing is
    published yet). Read-only on both files."""
    if not served.exists():
        return []
    bounds = bounds or GuardBounds()
    con = connect_read_only(working)
    try:
        con.execute(f"attach '{quoted_path(served)}' as published (read_only)")
        if not _has_table(con, "published", "marts", "rejected_rows"):
            return []
        outcomes = row_count_outcomes(con, bounds)
        if not accept_rejects:
            outcomes += seed_value_outcomes(con) + rejected_share_outcomes(con, bounds)
        return outcomes
    finally:
        con.close()


def _has_table(con: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables()"
            " where database_name = ? and schema_name = ? and table_name = ?",
            [database, schema, table],
        ).fetchone()[0]
    )


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def _database(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchone()[0]


def raw_counts(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, int]:
    """Rows of each raw table of an attached database (0 for a missing table). The served file ("published")
    has no raw layer: its counts are those the published build recorded (quality.record_raw_layer)."""
    if database == "published" and _has_table(con, database, "audit", RAW_LAYER_NAME):
        recorded = dict(
            con.execute(f'select raw_table, row_count from "{database}".{RAW_LAYER_TABLE}').fetchall()
        )
        return {table: int(recorded.get(table, 0)) for table in RAW_TABLES}
    return {
        table: con.execute(f'select count(*) from "{database}"."{RAW_SCHEMA}"."{table}"').fetchone()[0]
        if _has_table(con, database, RAW_SCHEMA, table)
        else 0
        for table in RAW_TABLES
    }


# ----------------------------------------------------------------------------------------------------------
# Raw row counts
# ----------------------------------------------------------------------------------------------------------


def shrink_allowed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a load since the last published build was made with --allow-shrink (raw.load_log rows the
    served file does not have)."""
    working = _database(con)
    if not _has_table(con, working, RAW_SCHEMA, LOAD_LOG_TABLE):
        return False
    if _has_table(con, "published", "audit", RAW_LAYER_NAME):
        published_since = f"(select max(last_loaded_at) from published.{RAW_LAYER_TABLE})"
    elif _has_table(con, "published", RAW_SCHEMA, LOAD_LOG_TABLE):  # a served file of the earlier layout
        published_since = f'(select max(loaded_at) from published."{RAW_SCHEMA}"."{LOAD_LOG_TABLE}")'
    else:
        published_since = "null"
    return bool(
        con.execute(
            f'select coalesce(bool_or(allow_shrink), false) from "{RAW_SCHEMA}"."{LOAD_LOG_TABLE}"'
            f" where loaded_at > coalesce({published_since}, timestamp '0001-01-01')"
        ).fetchone()[0]
    )


def row_count_outcomes(con: duckdb.DuckDBPyConnection, bounds: GuardBounds) -> list[Outcome]:
    """One outcome per raw table: did it shrink past the bound without a load that allowed it?"""
    now, before = raw_counts(con, _database(con)), raw_counts(con, "published")
    allowed = shrink_allowed(con)
    outcomes = []
    for table in RAW_TABLES:
        shrunk = before[table] > 0 and now[table] < before[table] * (1 - bounds.max_shrink)
        detail = f"raw.{table}: {_rows(now[table])}, {_rows(before[table])} in the last published build"
        if shrunk and not allowed:
            lost = 1 - now[table] / before[table]
            detail += (
                f": {lost:.0%} fewer, more than the {bounds.max_shrink:.0%} bound (LEADSCORE_MAX_SHRINK). "
                "Was the export complete? If the rows were removed on purpose, load it again with "
                "`leadscore load --allow-shrink`"
            )
        elif shrunk:
            detail += " (allowed by a load with --allow-shrink)"
        outcomes.append(Outcome(ROW_COUNTS, f"raw.{table} row count", not shrunk or allowed, detail))
    return outcomes


# ----------------------------------------------------------------------------------------------------------
# Seed values orphaned by a point-table edit
# ----------------------------------------------------------------------------------------------------------


def orphaned_values(con: duckdb.DuckDBPyConnection, reference: SeedReference) -> list[tuple[str, int]]:
    """(value, rows) of the values the published seed listed that rows now rejected as unknown carry."""
    seed = f"point_tables.{reference.seed}"
    if not _has_table(con, "published", "point_tables", reference.seed):
        return []
    return con.execute(
        f"""
        select v.{reference.value}, count(*) as n
        from {reference.relation} as v
        where v.reject_reason = ?
            and v.{reference.value} in (select {reference.seed_key} from published.{seed})
        group by 1
        order by n desc, 1
        """,
        [reference.reason],
    ).fetchall()


def seed_value_outcomes(con: duckdb.DuckDBPyConnection) -> list[Outcome]:
    """One outcome per seed reference: did an edit of the seed orphan values present in the data?"""
    outcomes = []
    for reference in SEED_REFERENCES:
        orphans = orphaned_values(con, reference)
        detail = f"seeds/{reference.seed}.csv lists every {reference.noun} the published one listed"
        if orphans:
            total = sum(count for _, count in orphans)
            shown = ", ".join(f"{value!r} ({_rows(count)})" for value, count in orphans[:SHOWN_VALUES])
            more = f" and {len(orphans) - SHOWN_VALUES} more" if len(orphans) > SHOWN_VALUES else ""
            detail = (
                f"seeds/{reference.seed}.csv no longer lists {reference.noun} {shown}{more} of the data: "
                f"{_rows(total)} of raw.{reference.table} that the last published build accepted, now "
                f"rejected as {reference.reason}. Restore the value, or publish anyway with "
                "`leadscore build --accept-rejects`"
            )
        outcomes.append(Outcome(SEED_VALUES, f"{reference.seed}.{reference.seed_key}", not orphans, detail))
    return outcomes


# ----------------------------------------------------------------------------------------------------------
# Rejected share
# ----------------------------------------------------------------------------------------------------------


def _rejects(con: duckdb.DuckDBPyConnection, database: str) -> dict[tuple[str, str], int]:
    rows = con.execute(
        f'select source_table, reject_reason, count(*) from "{database}".marts.rejected_rows group by 1, 2'
    ).fetchall()
    return {(table, reason): count for table, reason, count in rows}


def unknown_values(con: duckdb.DuckDBPyConnection, reference: SeedReference) -> list[tuple[str, int]]:
    """(value, rows) of the values rows rejected as unknown carry, most frequent first."""
    return con.execute(
        f"select {reference.value}, count(*) as n from {reference.relation} where reject_reason = ?"
        f" group by 1 order by n desc, 1 limit {SHOWN_VALUES}",
        [reference.reason],
    ).fetchall()


def rejected_share_outcomes(con: duckdb.DuckDBPyConnection, bounds: GuardBounds) -> list[Outcome]:
    """One outcome per raw table: did the share of its rows that are rejected rise past the bound?"""
    working = _database(con)
    now, before = _rejects(con, working), _rejects(con, "published")
    rows_now, rows_before = raw_counts(con, working), raw_counts(con, "published")
    outcomes = []
    for table in RAW_TABLES:
        rejected_now = sum(n for (t, _), n in now.items() if t == table)
        rejected_before = sum(n for (t, _), n in before.items() if t == table)
        share_now = rejected_now / rows_now[table] if rows_now[table] else 0.0
        share_before = rejected_before / rows_before[table] if rows_before[table] else 0.0
        rose = share_now - share_before > bounds.max_rejected_share_rise
        detail = (
            f"raw.{table}: {rejected_now:,} of {rows_now[table]:,} rows rejected ({share_now:.1%}), "
            f"{share_before:.1%} in the last published build"
        )
        if rose:
            points = round(bounds.max_rejected_share_rise * 100, 2)
            detail += (
                f": up more than {points:g} percentage points (LEADSCORE_MAX_REJECTED_SHARE_RISE): "
                f"{_grown_reasons(con, table, now, before)}. See marts.rejected_rows; fix the data or the "
                "point tables, or publish anyway with `leadscore build --accept-rejects`"
            )
        outcomes.append(Outcome(REJECTED_SHARE, f"raw.{table} rejected share", not rose, detail))
    return outcomes


def _grown_reasons(
    con: duckdb.DuckDBPyConnection,
    table: str,
    now: dict[tuple[str, str], int],
    before: dict[tuple[str, str], int],
) -> str:
    """The reasons of a table with more rejects than in the last published build, the largest rise first."""
    grown = [(reason, n, before.get((t, reason), 0)) for (t, reason), n in now.items() if t == table]
    grown = sorted((item for item in grown if item[1] > item[2]), key=lambda item: item[2] - item[1])
    return "; ".join(f"{reason} {n:,} (was {was:,}){_values_note(con, reason)}" for reason, n, was in grown)


def _values_note(con: duckdb.DuckDBPyConnection, reason: str) -> str:
    """For a reason that means "not in a point table": the most frequent values and the seed."""
    reference = REFERENCES_BY_REASON.get(reason)
    if reference is None:
        return ""
    values = ", ".join(f"{value!r} {count:,}" for value, count in unknown_values(con, reference))
    return f": {reference.noun} {values}, not in seeds/{reference.seed}.csv"
