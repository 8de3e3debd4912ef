"""The same project on PostgreSQL or Apache Spark: load the raw layer there, build there, read the mart back.

A dbt target of profiles.yml picks the engine (`leadscore load|build|top --target postgres|spark`). DuckDB
(the default `dev` target) keeps its own path: loader, write-audit-publish build and reads of the served
file (`orchestration.ingest.loader`, `orchestration.build.pipeline`, `orchestration.serve.top_leads`).
For another engine:

* **load**: the files are validated and staged by the DuckDB loader exactly as for DuckDB (same errors, same
  all-text columns and lineage columns), into a throw-away DuckDB file; the three staged tables are then
  copied into schema `raw` of the engine. PostgreSQL: `COPY ... FROM STDIN` (CSV written by DuckDB), the
  three tables replaced in one transaction. Spark: Parquet written by DuckDB, read by Spark into tables of
  the session's warehouse (`raw._loading_<table>` first, then renamed: Spark's metastore has no
  transaction over three tables, but a failed copy leaves the previous raw layer in place).
* **build**: `dbt build --target <target>` (every seed, model, contract, data test and unit test runs on
  the engine), then the summary is read back from the engine. PostgreSQL: write, audit, publish
  (`orchestration.build.engine_publishing`): the served schemas are built as staged ones, audited by the dbt
  tests and the Great Expectations suites of `orchestration.audit.quality`, and swapped in in one
  transaction. Spark: the same, into databases of the build, published by pointing the served names
  (views) at them. A failed test or expectation fails the command, names the failing rows, and leaves the
  previous build served.
* **top**: the same query as on DuckDB, on the engine.

Connection settings are those of the target's output in profiles.yml, rendered like dbt renders it
(`env_var(name, default)`): the loader and the summary connect exactly where dbt does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import yaml

from orchestration.build.dbt_invocation import DbtResult, run_dbt
from orchestration.build.engine_publishing import (
    SERVED_SCHEMAS,
    PublishError,
    audit_spark,
    audit_staged,
    build_lock,
    prepare_staged_schemas,
    publish_spark,
    publish_staged,
    spark_lead_count,
    spark_suffix,
    spark_vars,
    staged,
    staged_lead_count,
    staged_vars,
)
from orchestration.build.pipeline import (
    REJECTS_RELATION,
    BuildError,
    BuildSummary,
    check_as_of,
    describe_failures,
    describe_quality_failures,
    new_build_id,
    scoring_version,
)
from orchestration.build.publishing import scratch_dir, writer_lock
from orchestration.build.seed_check import check_seeds
from orchestration.ingest.loader import load_raw
from orchestration.serve.top_leads import TOP_COLUMNS
from orchestration.settings import RAW_SCHEMA, RAW_TABLES, STAGING_PREFIX, Settings, spark_dir
from orchestration.warehouse import LEAD_SCORES, connect_read_only, first_line, quote_ident

PROFILE_NAME = "leadscore"
DUCKDB, POSTGRES, SPARK = "duckdb", "postgres", "spark"
ENGINES = (DUCKDB, POSTGRES, SPARK)
FAILING_ROWS_SHOWN = 5


class EngineError(Exception):
    """A target that does not exist or an engine that cannot be reached; the message says which."""


# ----------------------------------------------------------------------------------------------------
# Targets of profiles.yml
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A dbt target: its name, its engine (the adapter type) and its rendered output settings."""

    name: str
    engine: str
    output: dict[str, Any]

    @property
    def is_duckdb(self) -> bool:
        return self.engine == DUCKDB


def engine_environment(settings: Settings) -> dict[str, str]:
    """Variables the profiles need beyond the process environment (absolute paths)."""
    return {"LEADSCORE_SPARK_DIR": str(spark_dir(settings.warehouse_path))}


def resolve_target(settings: Settings, name: str | None = None) -> Target:
    """The target `name` (default: the profile's default target) of the project's profiles.yml."""
    path = settings.project_dir / "profiles.yml"
    try:
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))[PROFILE_NAME]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise EngineError(f"{path}: cannot read profile {PROFILE_NAME!r} ({exc})") from exc
    env = {**os.environ, **engine_environment(settings)}
    chosen = name or _render(str(profile.get("target", "dev")), env)
    outputs = profile.get("outputs") or {}
    if chosen not in outputs:
        raise EngineError(f"no target {chosen!r} in {path} (targets: {', '.join(outputs)})")
    output = _render_tree(outputs[chosen], env)
    engine = str(output.get("type", ""))
    if engine not in ENGINES:
        raise EngineError(f"target {chosen!r} is of type {engine!r}; leadscore runs on {', '.join(ENGINES)}")
    return Target(name=chosen, engine=engine, output=output)


def _render(text: str, env: Mapping[str, str]) -> Any:
    """Render a profiles.yml value as dbt does for what this project uses: env_var() and as_number."""

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise EngineError(f"profiles.yml needs the environment variable {name}")
        return default

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    environment.filters["as_number"] = lambda value: float(value) if "." in str(value) else int(value)
    environment.filters["as_bool"] = lambda value: str(value).lower() in ("true", "1", "yes")
    environment.filters["as_native"] = lambda value: value
    return environment.from_string(text).render(env_var=env_var)


def _render_tree(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _render_tree(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_tree(item, env) for item in value]
    return _render(value, env) if isinstance(value, str) else value


def _engine_settings(settings: Settings, target: Target) -> Settings:
    """Settings whose lock file is per target (`leadscore.<target>.lock` beside the DuckDB file)."""
    return replace(settings, warehouse_path=settings.warehouse_path.with_name(f"leadscore.{target.name}"))


# ----------------------------------------------------------------------------------------------------
# Connections
# ----------------------------------------------------------------------------------------------------


def postgres_connect(target: Target) -> Any:
    """A psycopg2 connection to the target's server and database."""
    import psycopg2

    out = target.output
    try:
        return psycopg2.connect(
            host=out.get("host"),
            port=int(out.get("port", 5432)),
            user=out.get("user"),
            password=out.get("password") or out.get("pass") or None,
            dbname=out.get("dbname") or out.get("database"),
            connect_timeout=int(out.get("connect_timeout", 10)),
            application_name="leadscore",
        )
    except psycopg2.Error as exc:
        raise EngineError(f"target {target.name}: cannot connect to PostgreSQL ({first_line(exc)})") from exc


@contextmanager
def spark_session(target: Target) -> Iterator[Any]:
    """The Spark session of a `method: session` target, with the profile's server_side_parameters."""
    if target.output.get("method") != "session":
        raise EngineError(
            f"target {target.name}: leadscore reaches Spark through `method: session` only "
            f"(got {target.output.get('method')!r}); see docs/engines.md for loading a cluster"
        )
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in (target.output.get("server_side_parameters") or {}).items():
        builder = builder.config(str(key), str(value))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - py4j and JVM errors have no common base class
        raise EngineError(f"target {target.name}: cannot start Spark ({first_line(exc)})") from exc
    try:
        yield session
    finally:
        session.stop()


Query = Callable[[str], list[dict[str, Any]]]


@contextmanager
def connection(target: Target) -> Iterator[Query]:
    """A function running queries on a PostgreSQL or Spark target (rows as dicts), open for the block."""
    if target.engine == POSTGRES:
        con = postgres_connect(target)
        try:
            with con.cursor() as cursor:

                def run_postgres(sql: str) -> list[dict[str, Any]]:
                    cursor.execute(sql)
                    names = [d[0] for d in cursor.description]
                    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

                yield run_postgres
        finally:
            con.close()
    elif target.engine == SPARK:
        with spark_session(target) as spark:

            def run_spark(sql: str) -> list[dict[str, Any]]:
                try:
                    rows = spark.sql(sql).collect()
                except Exception as exc:  # noqa: BLE001 - AnalysisException, Py4JJavaError...
                    raise EngineError(f"target {target.name}: {first_line(exc)}") from exc
                return [{key: _utc(value) for key, value in row.asDict().items()} for row in rows]

            yield run_spark
    else:
        raise EngineError(f"target {target.name}: DuckDB is read directly, not through engines.connection")


# ----------------------------------------------------------------------------------------------------
# Load
# ----------------------------------------------------------------------------------------------------


def load_raw_into(
    settings: Settings, source_dir: Path, target: Target, allow_shrink: bool = False
) -> dict[str, int]:
    """Validate and stage the files with the DuckDB loader, then copy the raw layer into the engine."""
    engine_settings = _engine_settings(settings, target)
    with writer_lock(engine_settings), scratch_dir(engine_settings, "leadscore-load") as folder:
        staged = folder / "staged.duckdb"
        counts = load_raw(source_dir, staged, allow_shrink=allow_shrink)
        with connect_read_only(staged) as con:
            tables = {table: _raw_columns(con, table) for table in RAW_TABLES}
            fmt = "csv" if target.engine == POSTGRES else "parquet"
            for table in RAW_TABLES:
                con.execute(
                    f"COPY {quote_ident(RAW_SCHEMA)}.{quote_ident(table)} TO '{folder / f'{table}.{fmt}'}' "
                    + ("(FORMAT csv, HEADER false)" if fmt == "csv" else "(FORMAT parquet)")
                )
        if target.engine == POSTGRES:
            _copy_into_postgres(target, folder, tables)
        else:
            _copy_into_spark(target, folder, tables)
    return counts


def _raw_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a staged raw table, in order."""
    return [
        (row[0], row[1])
        for row in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [RAW_SCHEMA, table],
        ).fetchall()
    ]


def _copy_into_postgres(target: Target, folder: Path, tables: dict[str, list[tuple[str, str]]]) -> None:
    """Replace the three raw tables in one transaction (the staging views on them are dropped with them
    and rebuilt by the next build)."""
    types = {"VARCHAR": "text", "BIGINT": "bigint", "TIMESTAMP": "timestamp"}
    con = postgres_connect(target)
    try:
        with con, con.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RAW_SCHEMA)}")
            for table, columns in tables.items():
                relation = f"{quote_ident(RAW_SCHEMA)}.{quote_ident(table)}"
                cursor.execute(f"DROP TABLE IF EXISTS {relation} CASCADE")
                cursor.execute(
                    f"CREATE TABLE {relation} ("
                    + ", ".join(f"{quote_ident(name)} {types[kind]}" for name, kind in columns)
                    + ")"
                )
                with (folder / f"{table}.csv").open("rb") as handle:
                    cursor.copy_expert(f"COPY {relation} FROM STDIN WITH (FORMAT csv)", handle)
    finally:
        con.close()


def _copy_into_spark(target: Target, folder: Path, tables: dict[str, list[tuple[str, str]]]) -> None:
    """Write each raw table as `raw._loading_<table>` in the session's warehouse, then swap the names."""
    types = {"VARCHAR": "string", "BIGINT": "bigint", "TIMESTAMP": "timestamp"}
    raw = _spark_ident(RAW_SCHEMA)
    with spark_session(target) as spark:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {raw}")
        for table, columns in tables.items():
            staging = f"{raw}.{_spark_ident(STAGING_PREFIX + table)}"
            spark.sql(f"DROP TABLE IF EXISTS {staging}")
            frame = spark.read.parquet(str(folder / f"{table}.parquet"))
            frame = frame.select(
                *[frame[f"`{name}`"].cast(types[kind]).alias(name) for name, kind in columns]
            )
            frame.write.format("parquet").saveAsTable(staging)
        for table in tables:
            live = f"{raw}.{_spark_ident(table)}"
            spark.sql(f"DROP TABLE IF EXISTS {live}")
            spark.sql(f"ALTER TABLE {raw}.{_spark_ident(STAGING_PREFIX + table)} RENAME TO {live}")


# ----------------------------------------------------------------------------------------------------
# Build
# ----------------------------------------------------------------------------------------------------


def build_on(
    settings: Settings, target: Target, as_of: date | None = None, accept_drift: bool = False
) -> BuildSummary:
    """Check the seeds, run `dbt build` on the target's engine, and summarise from the engine. On
    PostgreSQL: write, audit, publish (build_on_postgres)."""
    as_of = as_of or datetime.now(UTC).date()
    check_as_of(as_of)
    check_seeds(settings.project_dir)
    build_id = new_build_id()
    version = scoring_version(settings.project_dir)
    dbt_vars = {"as_of": as_of.isoformat(), "build_id": build_id, "scoring_version": version}
    if target.engine == POSTGRES:
        return build_on_postgres(settings, target, dbt_vars, check_drift=not accept_drift)
    return build_on_spark(settings, target, dbt_vars, check_drift=not accept_drift)


def build_on_spark(
    settings: Settings, target: Target, dbt_vars: dict[str, str], check_drift: bool = True
) -> BuildSummary:
    """Write, audit, publish on Spark (orchestration.build.engine_publishing): build the served schemas into
    databases of this build, run every dbt test and the Great Expectations suites there, then point the
    served names (views) at them. Raise BuildError naming what failed; BI then still reads the previous
    build."""
    build_id, version = dbt_vars["build_id"], dbt_vars["scoring_version"]
    as_of = date.fromisoformat(dbt_vars["as_of"])
    databases = ", ".join(schema + spark_suffix(build_id) for schema in SERVED_SCHEMAS)
    not_published = (
        f"not published: {describe(target)} still serves the previous build "
        f"(this build's tables are in {databases} until the next published build)"
    )
    with writer_lock(_engine_settings(settings, target)):
        result = run_dbt(
            settings, ["build"], dbt_vars={**dbt_vars, **spark_vars(build_id)}, target=target.name
        )
        if not result.success:
            _attach_failing_rows(settings, target, result)
            raise BuildError(describe_failures(result.failures, result.output) + "\n" + not_published)
        with spark_session(target) as spark:
            if spark_lead_count(spark, build_id) == 0:
                raise BuildError(f"no leads scored as of {as_of.isoformat()}; {not_published}")
            outcomes = audit_spark(spark, build_id, check_drift=check_drift)
            if not all(outcome.success for outcome in outcomes):
                raise BuildError(describe_quality_failures(outcomes) + "\n" + not_published)
            publish_spark(spark, build_id, as_of, version)
        summary = summarise_on(target, build_id=build_id, as_of=as_of, version=version)
    summary.quality = (
        f"dbt tests passed; {len(outcomes)}/{len(outcomes)} expectations passed; "
        f"published as views on {databases}"
    )
    return summary


def build_on_postgres(
    settings: Settings, target: Target, dbt_vars: dict[str, str], check_drift: bool = True
) -> BuildSummary:
    """Write, audit, publish on PostgreSQL (orchestration.build.engine_publishing): build the served schemas
    as staged ones, run every dbt test and the Great Expectations suites there, then swap them in for the
    served ones in one transaction. Raise BuildError naming what failed; BI then still reads the previous
    build."""
    build_id, as_of, version = (
        dbt_vars["build_id"],
        date.fromisoformat(dbt_vars["as_of"]),
        dbt_vars["scoring_version"],
    )
    not_published = (
        f"not published: {describe(target)} still serves the previous build "
        f"(this build's tables are in {', '.join(staged(s) for s in SERVED_SCHEMAS)} until the next build)"
    )
    con = postgres_connect(target)
    try:
        with writer_lock(_engine_settings(settings, target)), build_lock(con):
            prepare_staged_schemas(con)
            result = run_dbt(settings, ["build"], dbt_vars={**dbt_vars, **staged_vars()}, target=target.name)
            if not result.success:
                _attach_failing_rows(settings, target, result)
                raise BuildError(describe_failures(result.failures, result.output) + "\n" + not_published)
            if staged_lead_count(con) == 0:
                raise BuildError(f"no leads scored as of {as_of.isoformat()}; {not_published}")
            outcomes = audit_staged(con, check_drift=check_drift)
            if not all(outcome.success for outcome in outcomes):
                raise BuildError(describe_quality_failures(outcomes) + "\n" + not_published)
            try:
                publish_staged(con, build_id, as_of, version)
            except PublishError as exc:
                raise BuildError(str(exc)) from exc
            summary = summarise_on(target, build_id=build_id, as_of=as_of, version=version)
    finally:
        con.close()
    summary.quality = (
        f"dbt tests passed; {len(outcomes)}/{len(outcomes)} expectations passed; "
        f"published {', '.join(SERVED_SCHEMAS)} in one transaction"
    )
    return summary


def _attach_failing_rows(settings: Settings, target: Target, result: DbtResult) -> None:
    """Replace the failing rows of failed tests by those the engine stored (dbt stores test failures)."""
    target_path = Path(os.environ.get("DBT_TARGET_PATH", settings.project_dir / "target"))
    try:
        results = json.loads((target_path / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return
    relations = {
        r["unique_id"].split(".", 2)[-1]: r.get("relation_name")
        for r in results
        if r["unique_id"].startswith("test.")
    }
    failed = [(failure, relations.get(failure.name)) for failure in result.failures]
    failed = [(failure, relation) for failure, relation in failed if relation]
    if not failed:
        return
    try:
        with connection(target) as run:
            for failure, relation in failed:
                failure.failing_rows = run(f"select * from {relation} limit {FAILING_ROWS_SHOWN}")
    except Exception:  # noqa: BLE001 - the rows are a courtesy; the failures themselves are reported
        return


def summarise_on(target: Target, build_id: str, as_of: date, version: str) -> BuildSummary:
    """The build summary (the same figures as on DuckDB) read from the engine."""
    with connection(target) as run:
        leads = run(f"select count(*) as n from {LEAD_SCORES}")[0]["n"]
        tiers = run(
            f"""
            select tiers.tier_key, tiers.tier_order, count(scores.lead_id) as n
            from point_tables.score_tiers as tiers
            left join {LEAD_SCORES} as scores on scores.tier = tiers.tier_key
            group by tiers.tier_key, tiers.tier_order
            order by tiers.tier_order
            """
        )
        mql = run(f"select count(*) as n from {LEAD_SCORES} where is_mql")[0]["n"]
        rejects = run(
            f"""
            select source_table, reject_reason, count(*) as n
            from {REJECTS_RELATION}
            group by source_table, reject_reason
            order by source_table, count(*) desc, reject_reason
            """
        )
    summary = BuildSummary(
        build_id=build_id,
        as_of=as_of,
        scoring_version=version,
        leads_scored=int(leads),
        tiers={row["tier_key"]: int(row["n"]) for row in tiers},
        mql_count=int(mql),
        rejects={(row["source_table"], row["reject_reason"]): int(row["n"]) for row in rejects},
        warehouse_path=Path(describe(target)),
    )
    summary.mart_relation = f"{LEAD_SCORES} (target {target.name})"
    return summary


def describe(target: Target) -> str:
    """Where a target's data lives, for messages."""
    out = target.output
    if target.engine == POSTGRES:
        return f"PostgreSQL {out.get('host')}:{out.get('port')}/{out.get('dbname') or out.get('database')}"
    if target.engine == SPARK:
        warehouse = (out.get("server_side_parameters") or {}).get("spark.sql.warehouse.dir", "")
        return f"Spark {out.get('method')} {warehouse}".strip()
    return str(out.get("path", "DuckDB"))


def top_leads_on(target: Target, limit: int) -> list[dict[str, Any]]:
    """The `limit` best-ranked leads of the mart on the engine (same columns as on DuckDB)."""
    with connection(target) as run:
        return run(
            f"select {', '.join(TOP_COLUMNS)} from {LEAD_SCORES} "
            f"where lead_rank <= {int(limit)} order by lead_rank"
        )


# ----------------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------------


def _spark_ident(name: str) -> str:
    """A back-quoted identifier (Spark SQL)."""
    return "`" + name.replace("`", "``") + "`"


def _utc(value: Any) -> Any:  # noqa: ANN401 - any column value
    """pyspark returns timestamps as naive datetimes in the Python process's local time: make them UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
