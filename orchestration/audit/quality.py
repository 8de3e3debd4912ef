"""Great Expectations suites on the marts: the audit step of write, audit, publish.

GX's SQL datasource does not work on DuckDB, so each mart is read through a read-only DuckDB connection into
a pandas dataframe and validated with an ephemeral GX context. The same function serves `leadscore build`
and any orchestrator. Every suite is blocking: one failed expectation and the build is not published.
PostgreSQL and Spark builds read the same frames through their own SQL (read_mart_frames) and validate them
with the same function (validate_frames; orchestration/build/engine_publishing.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestration.settings import LOAD_LOG_TABLE, RAW_SCHEMA, RAW_TABLES
from orchestration.warehouse import connect_read_only, connect_writer

AUDIT_TABLE = "audit.published_runs"
EPSILON = 1e-9


@dataclass
class Outcome:
    """One expectation's result."""

    suite: str
    expectation: str
    success: bool
    detail: str


@dataclass(frozen=True)
class Suite:
    """An expectation suite: title (in messages), key (the Dagster check name), the mart it audits."""

    key: str
    title: str
    mart: str
    description: str


SUITES: tuple[Suite, ...] = (
    Suite(
        "component_ranges",
        "component ranges",
        "lead_scores",
        "Every point column and weighted score component lies within the range its point tables allow.",
    ),
    Suite("rank", "rank", "lead_scores", "lead_rank is unique and contiguous from 1 to the number of leads."),
    Suite(
        "tier_and_grade",
        "tier and grade",
        "lead_scores",
        "Tier, fit grade, engagement grade, grade cell and MQL flag agree with the totals and the seeds'"
        " thresholds.",
    ),
    Suite(
        "one_row_per_accepted_lead",
        "one row per accepted lead",
        "lead_scores",
        "One mart row per raw lead that passed the data contract and existed on the as-of date.",
    ),
    Suite(
        "breakdown_adds_up",
        "breakdown adds up",
        "lead_score_breakdown",
        "Every lead's breakdown rows add up to its score_total.",
    ),
    Suite(
        "drift",
        "drift from the last published run",
        "lead_scores",
        "Mean score and MQL share within the drift bounds of the last published run.",
    ),
    # Checks against the last published build that are not expectations on a mart (publish_guards.py).
    Suite(
        "raw_row_counts",
        "raw row counts",
        "lead_scores",
        "No raw table lost more than LEADSCORE_MAX_SHRINK of its rows since the last published build, unless "
        "a load since allowed it (leadscore load --allow-shrink).",
    ),
    Suite(
        "seed_values",
        "seed values",
        "rejected_rows",
        "No point-table edit since the last published build leaves values of the data unlisted (rows that "
        "would now be rejected).",
    ),
    Suite(
        "rejected_share",
        "rejected share",
        "rejected_rows",
        "The share of rejected rows of each raw table rose by at most LEADSCORE_MAX_REJECTED_SHARE_RISE "
        "since the last published build.",
    ),
)
# The suites publish_guards.py fills; the others are Great Expectations suites on the marts.
GUARD_SUITE_KEYS = ("raw_row_counts", "seed_values", "rejected_share")
SUITES_BY_TITLE = {suite.title: suite for suite in SUITES}


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class DriftBounds:
    """How far the mean score and the MQL share may move from the last published run (read from
    LEADSCORE_DRIFT_MEAN_SCORE and LEADSCORE_DRIFT_MQL_SHARE when not given)."""

    mean_score: float = field(default_factory=lambda: _env_float("LEADSCORE_DRIFT_MEAN_SCORE", 2.0))
    mql_share: float = field(default_factory=lambda: _env_float("LEADSCORE_DRIFT_MQL_SHARE", 0.10))


def _band(values: pd.Series, bands: pd.DataFrame, lower: str, upper: str, key: str) -> pd.Series:
    out = pd.Series(None, index=values.index, dtype=object)
    for band in bands.itertuples(index=False):
        low, high = getattr(band, lower), getattr(band, upper)
        mask = values.notna()
        if pd.notna(low):
            mask &= values >= float(low)
        if pd.notna(high):
            mask &= values < float(high)
        out[mask] = getattr(band, key)
    return out


# The mart's columns of the points of one fit dimension (before weight).
POINT_COLUMNS = ("industry_points", "company_size_points", "geography_points", "job_role_points")
# The mart columns the expectations read (reading the whole wide mart into pandas cost seconds at 1 M leads).
AUDITED_COLUMNS = (
    "lead_id",
    "lead_rank",
    "score_total",
    "fit_score",
    "engagement_score",
    "negative_score",
    "rfm_score",
    *POINT_COLUMNS,
    "engagement_points",
    "tier",
    "fit_grade",
    "engagement_grade",
    "grade_cell",
    "is_mql",
)


def read_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The mart, breakdown totals, the point tables the checks need, the expected lead count and the last
    published run."""
    frames = read_mart_frames(lambda sql: con.execute(sql).df())
    has_audit = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'audit' and table_name = 'published_runs'"
    ).fetchone()[0]
    frames["last_run"] = (
        con.execute(f"select * from {AUDIT_TABLE} order by published_at desc limit 1").df()
        if has_audit
        else pd.DataFrame()
    )
    return frames


def read_mart_frames(query: Callable[[str], pd.DataFrame], marts: str = "marts") -> dict[str, pd.DataFrame]:
    """The frames of read_frames but the last run, read by `query` (SQL that DuckDB, PostgreSQL and Spark
    all run) with the marts in schema `marts` (a PostgreSQL build audits its staged marts)."""
    scores = query(
        f"""
        select {", ".join(f"s.{column}" for column in AUDITED_COLUMNS)},
            cast(s.is_mql as integer) as is_mql_int, b.breakdown_total
        from {marts}.lead_scores as s
        left join (
            select lead_id, sum(score_points) as breakdown_total
            from {marts}.lead_score_breakdown
            group by lead_id
        ) as b using (lead_id)
        """
    )
    frames = {"lead_scores": scores}
    for seed in (
        "score_weights",
        "score_tiers",
        "score_settings",
        "fit_grade_bands",
        "engagement_grade_bands",
        "engagement_levels",
        "negative_rules",
        "rfm_segments",
        "lead_property_rules",
        "engagement_event_points",
    ):
        frames[seed] = query(f"select * from point_tables.{seed}")
    # Independent of the scoring joins: accepted raw leads that existed at the end of the as-of date.
    frames["expected_leads"] = query(
        f"""
        select count(*) as n
        from intermediate.int_leads_validated
        where
            reject_reason is null
            and created_at < (select max(as_of_date) from {marts}.lead_scores) + interval '1' day
        """
    )
    return frames


def _points_range(points: pd.Series, weight: float = 1.0) -> tuple[float, float]:
    """[min, max] of weight x points, including 0 (what the engine gives a lead no seed row matches)."""
    values = points.astype(float)
    low, high = min(0.0, float(values.min())), max(0.0, float(values.max()))
    return (low * weight, high * weight) if weight >= 0 else (high * weight, low * weight)


def _dimension_ranges(rules: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """[min, max] of the points of each dimension of lead_property_rules: one rule fires per property and
    dimension (or none: 0), and the properties of a dimension add up."""
    ranges: dict[str, tuple[float, float]] = {}
    grouped = rules.assign(property_key=rules["property"].str.strip().str.lower()).groupby(
        ["dimension", "property_key"]
    )
    for (dimension, _), group in grouped:
        low, high = _points_range(group["points"])
        before = ranges.get(dimension, (0.0, 0.0))
        ranges[dimension] = (before[0] + low, before[1] + high)
    return ranges


def _within(ex: Any, column: str, low: float, high: float) -> list[Any]:
    """Every non-null value of the column within [low, high] (to EPSILON), as the column's minimum and
    maximum within the range: the same check as ExpectColumnValuesToBeBetween, through two aggregate metrics
    instead of a per-row map (GX's per-row metrics copy the frame: slow at a million leads, BENCHMARKS.md)."""
    return [
        ex.ExpectColumnMinToBeBetween(column=column, min_value=low - EPSILON),
        ex.ExpectColumnMaxToBeBetween(column=column, max_value=high + EPSILON),
    ]


def _range_expectations(ex: Any, frames: dict[str, pd.DataFrame]) -> list:  # noqa: ANN401 - gx.expectations
    """Each component's points and score within what the point tables allow."""
    weights = frames["score_weights"].set_index("component_key")["weight"].astype(float)
    dimensions = _dimension_ranges(frames["lead_property_rules"])
    ranges = []
    fit_low = fit_high = 0.0
    for dimension, (low, high) in dimensions.items():
        if dimension == "negative":
            continue
        if f"{dimension}_points" in POINT_COLUMNS:
            ranges += _within(ex, f"{dimension}_points", low, high)
        weight = weights.get(dimension, 0.0)
        fit_low += min(low * weight, high * weight)
        fit_high += max(low * weight, high * weight)
    # Each event rule's decayed points per lead stop at its cap (a floor for negative points): a lead's
    # engagement points lie between the sum of the negative caps and the sum of the positive ones.
    events = frames["engagement_event_points"]
    caps = events.loc[events["points"].astype(float) != 0, "cap_points"].astype(float)
    level_low, level_high = _points_range(frames["engagement_levels"]["points"], weights["engagement"])
    event_weight = weights.get("engagement_points", 0.0)
    engagement = (
        level_low + float(caps[caps < 0].sum()) * event_weight,
        level_high + float(caps[caps > 0].sum()) * event_weight,
    )
    negative_points = frames["negative_rules"]["points"].astype(float)
    negative_floor = float(negative_points[negative_points < 0].sum())
    negative_floor += dimensions.get("negative", (0.0, 0.0))[0]
    negative = (negative_floor * weights["negative"], 0.0)
    rfm = _points_range(frames["rfm_segments"]["points"], weights["rfm"])
    for column, (low, high) in {
        "fit_score": (fit_low, fit_high),
        "engagement_score": engagement,
        "negative_score": negative,
        "rfm_score": rfm,
    }.items():
        ranges += _within(ex, column, low, high)
    return ranges


def _drift_expectations(ex: Any, last: pd.DataFrame, bounds: DriftBounds) -> list:  # noqa: ANN401
    """The mean score and the MQL share within the drift bounds of the last published run's."""
    mean, share = float(last["mean_score"].iloc[0]), float(last["mql_share"].iloc[0])
    return [
        ex.ExpectColumnMeanToBeBetween(
            column="score_total", min_value=mean - bounds.mean_score, max_value=mean + bounds.mean_score
        ),
        ex.ExpectColumnMeanToBeBetween(
            column="is_mql_int", min_value=share - bounds.mql_share, max_value=share + bounds.mql_share
        ),
    ]


def build_suites(frames: dict[str, pd.DataFrame], bounds: DriftBounds) -> list[tuple[Suite, list]]:
    """The expectation suites, with bounds taken from the point tables."""
    import great_expectations as gx

    ex = gx.expectations
    count = int(len(frames["lead_scores"]))
    ranking = [
        ex.ExpectColumnValuesToNotBeNull(column="lead_rank"),
        ex.ExpectColumnValuesToBeUnique(column="lead_rank"),
        ex.ExpectColumnMinToBeBetween(column="lead_rank", min_value=1, max_value=1),
        ex.ExpectColumnMaxToBeBetween(column="lead_rank", min_value=count, max_value=count),
    ]
    consistency = [
        ex.ExpectColumnPairValuesToBeEqual(column_A="tier", column_B="expected_tier"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="fit_grade", column_B="expected_fit_grade"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="engagement_grade", column_B="expected_engagement_grade"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="grade_cell", column_B="expected_grade_cell"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="is_mql", column_B="expected_is_mql"),
    ]
    coverage = [
        ex.ExpectTableRowCountToEqual(value=int(frames["expected_leads"]["n"].iloc[0])),
        ex.ExpectColumnValuesToBeUnique(column="lead_id"),
    ]
    breakdown = [
        ex.ExpectColumnValuesToNotBeNull(column="breakdown_total"),
        *_within(ex, "breakdown_difference", 0.0, 0.0),
    ]
    by_key = {suite.key: suite for suite in SUITES}
    suites = [
        (by_key["component_ranges"], _range_expectations(ex, frames)),
        (by_key["rank"], ranking),
        (by_key["tier_and_grade"], consistency),
        (by_key["one_row_per_accepted_lead"], coverage),
        (by_key["breakdown_adds_up"], breakdown),
    ]
    if not frames["last_run"].empty:
        suites.append((by_key["drift"], _drift_expectations(ex, frames["last_run"], bounds)))
    return suites


def validate_marts(
    warehouse: Path, bounds: DriftBounds | None = None, check_drift: bool = True
) -> list[Outcome]:
    """Run every suite on the warehouse's marts (read-only); return one outcome per expectation."""
    with connect_read_only(warehouse) as con:
        frames = read_frames(con)
    return validate_frames(frames, bounds, check_drift)


def validate_frames(
    frames: dict[str, pd.DataFrame], bounds: DriftBounds | None = None, check_drift: bool = True
) -> list[Outcome]:
    """Run every suite on the frames of read_frames, whichever engine they were read from."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if not check_drift:
        frames["last_run"] = pd.DataFrame()
    _add_expected_columns(frames)
    suites = build_suites(frames, bounds or DriftBounds())
    scores = _narrowed_frame(frames["lead_scores"], suites)
    # GX labels a pandas batch smaller than HASH_THRESHOLD bytes with an md5 of hash_pandas_object over the
    # whole frame, twice per validation (get_batch, then validate). The audit never reads that label, and it
    # was a sizeable share of the audit (BENCHMARKS.md): a threshold of 0 skips it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("marts")
        .add_dataframe_asset("lead_scores")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": scores})
    )
    # One validation of every expectation, each tagged with its suite: GX fingerprints the whole frame on
    # every validate call (once per suite when each suite was validated on its own: BENCHMARKS.md).
    names = [suite_def.title for suite_def, _ in suites]
    combined = gx.ExpectationSuite(name="marts")
    for name, (_, expectations) in zip(names, suites, strict=True):
        for expectation in expectations:
            expectation.meta = {**(expectation.meta or {}), "suite": name}
            combined.add_expectation(expectation)
    outcomes = [_outcome(result) for result in batch.validate(combined, result_format="SUMMARY").results]
    return sorted(outcomes, key=lambda outcome: names.index(outcome.suite))


def _outcome(result: Any) -> Outcome:  # noqa: ANN401 - a GX ExpectationValidationResult
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    observed = result.result.get("observed_value", result.result.get("partial_unexpected_list"))
    return Outcome(
        config.meta["suite"], f"{config.type}({kwargs})", bool(result.success), f"observed {observed}"
    )


def _add_expected_columns(frames: dict[str, pd.DataFrame]) -> None:
    """The columns the consistency and breakdown expectations compare, added to frames["lead_scores"]:
    tier, grades, grade cell and MQL flag recomputed from the point tables, and the breakdown's difference."""
    scores = frames["lead_scores"]
    scores["expected_tier"] = _band(
        scores["score_total"].astype(float), frames["score_tiers"], "min_score", "max_score", "tier_key"
    )
    scores["expected_fit_grade"] = _band(
        scores["fit_score"].astype(float),
        frames["fit_grade_bands"],
        "min_fit_points",
        "max_fit_points",
        "fit_grade",
    )
    scores["expected_engagement_grade"] = _band(
        scores["engagement_points"].astype(float),
        frames["engagement_grade_bands"],
        "min_engagement_points",
        "max_engagement_points",
        "engagement_grade",
    )
    scores["expected_grade_cell"] = scores["fit_grade"].astype(str) + scores["engagement_grade"].astype(str)
    settings = frames["score_settings"].set_index("setting_key")["setting_value"].astype(float)
    scores["expected_is_mql"] = scores["score_total"].astype(float) >= settings["mql_threshold"]
    scores["is_mql"] = scores["is_mql"].astype(bool)
    scores["breakdown_difference"] = scores["score_total"].astype(float) - scores["breakdown_total"].astype(
        float
    )
    for column in ("fit_score", "engagement_score", "negative_score", "rfm_score", "score_total"):
        scores[column] = scores[column].astype(float)


def _narrowed_frame(scores: pd.DataFrame, suites: list[tuple[Suite, list]]) -> pd.DataFrame:
    """The columns the expectations read, paired text columns as categoricals over their common values."""
    # Only the columns the expectations read, in one consolidated block: GX copies and consolidates the
    # frame per metric, which on the wide mart is slow (BENCHMARKS.md, audit).
    used = sorted({column for _, expectations in suites for e in expectations for column in _columns_of(e)})
    scores = pd.DataFrame({column: scores[column].to_numpy() for column in used})
    # Text columns compared in pairs as categoricals over their common values: the same equality, without
    # comparing a million Python strings per expectation (its cost: BENCHMARKS.md, audit).
    pairs = {(e.column_A, e.column_B) for _, expectations in suites for e in expectations if _is_pair(e)}
    for column_a, column_b in sorted(pairs):
        if scores[column_a].dtype == object and scores[column_b].dtype == object:
            values = pd.concat([scores[column_a], scores[column_b]]).dropna().unique()
            dtype = pd.CategoricalDtype(sorted(str(v) for v in values))
            scores[column_a] = scores[column_a].astype(dtype)
            scores[column_b] = scores[column_b].astype(dtype)
    return scores


def _is_pair(expectation: Any) -> bool:
    """A column-pair expectation (it has column_A and column_B)."""
    return isinstance(getattr(expectation, "column_A", None), str)


def _columns_of(expectation: Any) -> list[str]:
    """The mart columns an expectation reads (none for table-level ones such as the row count)."""
    names = ("column", "column_A", "column_B")
    return [value for name in names if isinstance(value := getattr(expectation, name, None), str)]


def record_published_run(
    warehouse: Path,
    build_id: str,
    as_of: str,
    scoring_version: str = "",
    code_version: str = "",
    loaded_through: datetime | None = None,
    loaded_rows: int | None = None,
) -> None:
    """Remember the published run: its mean score and MQL share (the next build's drift reference), the
    point-table and code versions it was built and tested with (what the next build may skip re-testing) and
    what it read of the raw layer (the last load time and the row count then: what the next build at the same
    as-of date may patch from, see lead_patching)."""
    with connect_writer(warehouse) as con:
        con.execute("create schema if not exists audit")
        con.execute(
            f"""
            create table if not exists {AUDIT_TABLE} (
                build_id varchar, as_of_date date, lead_count bigint, mean_score double, mql_share double,
                published_at timestamp
            )
            """
        )
        # Files written before these columns existed gain them (null: nothing to skip after such a run).
        con.execute(f"alter table {AUDIT_TABLE} add column if not exists scoring_version varchar")
        con.execute(f"alter table {AUDIT_TABLE} add column if not exists code_version varchar")
        con.execute(f"alter table {AUDIT_TABLE} add column if not exists loaded_through timestamp")
        con.execute(f"alter table {AUDIT_TABLE} add column if not exists loaded_rows bigint")
        con.execute(
            f"comment on table {AUDIT_TABLE} is 'Every published build: its mean score and MQL share"
            " (the drift reference of the next build), point-table and code versions, what it read of raw"
            " data.'"
        )
        con.execute(
            f"""
            insert into {AUDIT_TABLE}
                (build_id, as_of_date, lead_count, mean_score, mql_share, published_at, scoring_version,
                code_version, loaded_through, loaded_rows)
            select
                ?, cast(? as date), count(*), avg(score_total),
                avg(case when is_mql then 1.0 else 0.0 end), current_timestamp, ?, ?, ?, ?
            from marts.lead_scores
            """,
            [build_id, as_of, scoring_version or None, code_version or None, loaded_through, loaded_rows],
        )


RAW_LAYER_TABLE = "audit.published_raw_layer"


def record_raw_layer(warehouse: Path) -> None:
    """Remember the raw layer a published build read: rows per raw table and the last load's time
    (raw.load_log). The served file has no raw layer: the next build's checks against the last published
    build (publish_guards) read these counts from it."""
    with connect_writer(warehouse) as con:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = current_database()"
                " and schema_name = ?",
                [RAW_SCHEMA],
            ).fetchall()
        }
        last_load = (
            f'(select max(loaded_at) from "{RAW_SCHEMA}"."{LOAD_LOG_TABLE}")'
            if LOAD_LOG_TABLE in present
            else "cast(null as timestamp)"
        )
        counts = (
            " union all ".join(
                f'select \'{table}\' as raw_table, count(*) as row_count from "{RAW_SCHEMA}"."{table}"'
                for table in RAW_TABLES
                if table in present
            )
            or "select cast(null as varchar) as raw_table, cast(0 as bigint) as row_count where false"
        )
        con.execute("create schema if not exists audit")
        con.execute(
            f"create or replace table {RAW_LAYER_TABLE} as"
            f" select raw_table, row_count, {last_load} as last_loaded_at from ({counts})"
        )
        con.execute(
            f"comment on table {RAW_LAYER_TABLE} is 'The raw layer the last published build read: rows per"
            " raw table and the time of the last load (the next build compares its raw layer with it).'"
        )


@dataclass(frozen=True)
class PublishedRun:
    """The last published run of a warehouse file, as record_published_run wrote it (None for a column the
    file's audit table predates)."""

    build_id: str
    as_of: date
    scoring_version: str | None
    code_version: str | None
    loaded_through: datetime | None
    loaded_rows: int | None


_RECORDED_COLUMNS = (
    "build_id",
    "as_of_date",
    "scoring_version",
    "code_version",
    "loaded_through",
    "loaded_rows",
)


def last_published_run(warehouse: Path) -> PublishedRun | None:
    """The last run published into this file (None when there is none)."""
    if not warehouse.exists():
        return None
    with connect_read_only(warehouse) as con:
        present = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'audit' and table_name = 'published_runs'"
            ).fetchall()
        }
        if not present:
            return None
        selected = ", ".join(name if name in present else "null" for name in _RECORDED_COLUMNS)
        row = con.execute(
            f"select {selected} from {AUDIT_TABLE} order by published_at desc limit 1"
        ).fetchone()
    return PublishedRun(*row) if row else None


def last_published_versions(warehouse: Path) -> tuple[str | None, str | None]:
    """The point-table and code versions of the last run published into this file (None when unknown)."""
    run = last_published_run(warehouse)
    return (run.scoring_version, run.code_version) if run else (None, None)
