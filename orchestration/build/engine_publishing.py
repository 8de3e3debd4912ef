"""Write-audit-publish on PostgreSQL and Spark: build apart from what BI reads, audit there, publish at once.

PostgreSQL below; Spark (a database per build, served through views) in its own section further down.

What BI reads on PostgreSQL are the served schemas (SERVED_SCHEMAS: the marts, with the rejected rows, and
the score history). A build never writes them. It runs in four steps, on one connection that holds the
build's advisory lock (one build per database, whichever machine starts it):

1. **prepare**: drop what a killed or failed build left (`<schema>__staged`, `<schema>__previous`), create
   `<schema>__staged` for each served schema with the live schema's privileges, and clone into it the
   tables that carry state from build to build (CARRIED_SCHEMAS: the score history and the CRM change log,
   appended to by every build). The marts start empty and are built in full.
2. **write**: `dbt build` with vars staged_schemas and staged_schema_suffix (macro generate_schema_name),
   so the served schemas' models land in `<schema>__staged`; every data test and unit test runs there.
   The pipeline's own schemas (raw, staging, intermediate, point_tables, dbt_test__audit, audit) are
   written in place: BI does not read them, and their incremental tables check their own state.
3. **audit**: the Great Expectations suites of orchestration.audit.quality, on the staged marts read through
   SQL (the same queries, expectations and derivations as on DuckDB), drift against the last published
   run of `audit.published_runs` on the server.
4. **publish**: one transaction takes ACCESS EXCLUSIVE locks on every relation of the live served
   schemas, renames each live schema to `<schema>__previous` and its staged one to `<schema>`, drops the
   previous ones and records the run in `audit.published_runs`. A reader's transaction that has read a
   served table holds a lock the swap waits for, so it reads one build throughout; a reader that starts
   during the swap waits for it (never longer than PUBLISH_LOCK_TIMEOUT per attempt) and then reads the
   new build. The swap waits at most PUBLISH_LOCK_TIMEOUT for each lock, below PostgreSQL's deadlock_timeout
   (1 s by default), so when a reader and the swap wait for each other it is always the swap that gives up
   and retries, never the reader that fails; after LEADSCORE_PG_PUBLISH_WAIT_SECONDS of retries the build
   fails and nothing is published.

A build that fails its dbt tests or its audit leaves the served schemas untouched and its staged schemas in
place, to be inspected, until the next build drops them. docs/engines.md says the same for users.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from orchestration.audit.quality import AUDIT_TABLE, DriftBounds, Outcome, read_mart_frames, validate_frames

# What BI reads (dbt's custom schema names); each is built as <schema>__staged and published by a rename.
SERVED_SCHEMAS = ("marts", "history")
# Served schemas whose tables carry state across builds (incremental, appended to by every build): cloned
# from the live schema into the staged one before dbt runs.
CARRIED_SCHEMAS = ("history",)
STAGED_SUFFIX = "__staged"
PREVIOUS_SUFFIX = "__previous"
# The key of the session advisory lock a build holds on the database: one build at a time.
ADVISORY_LOCK_KEY = 0x1EAD5C0E
# How long the swap waits for one lock before it rolls back and retries (below deadlock_timeout).
PUBLISH_LOCK_TIMEOUT = "200ms"
PUBLISH_RETRY_PAUSE_SECONDS = 0.5


class PublishError(Exception):
    """The staged build could not be published; the served schemas are as they were."""


def publish_wait_seconds() -> float:
    """How long the swap keeps retrying while readers hold the served tables:
    LEADSCORE_PG_PUBLISH_WAIT_SECONDS, default 300."""
    return float(os.environ.get("LEADSCORE_PG_PUBLISH_WAIT_SECONDS", "300"))


def staged_vars() -> dict[str, Any]:
    """The dbt vars that make a build write the served schemas as <schema>__staged."""
    return {"staged_schemas": list(SERVED_SCHEMAS), "staged_schema_suffix": STAGED_SUFFIX}


def staged(schema: str) -> str:
    return schema + STAGED_SUFFIX


def previous(schema: str) -> str:
    return schema + PREVIOUS_SUFFIX


@contextmanager
def build_lock(con: Any) -> Iterator[None]:  # noqa: ANN401 - a psycopg2 connection
    """Hold the database's build lock (a session advisory lock) for the block; wait, saying so, when
    another build holds it."""
    con.autocommit = True
    with con.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        if not cursor.fetchone()[0]:
            print("waiting for another build on this PostgreSQL database to finish", flush=True)
            cursor.execute("select pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
    con.autocommit = False
    try:
        yield
    finally:
        con.rollback()
        con.autocommit = True
        with con.cursor() as cursor:
            cursor.execute("select pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


# ----------------------------------------------------------------------------------------------------
# 1. Prepare
# ----------------------------------------------------------------------------------------------------


def prepare_staged_schemas(con: Any) -> None:  # noqa: ANN401 - a psycopg2 connection
    """Drop leftovers of earlier builds, create the staged schemas with the live ones' privileges, and clone
    the carried tables into them; one transaction."""
    with con, con.cursor() as cursor:
        for schema in SERVED_SCHEMAS:
            cursor.execute(f"drop schema if exists {ident(staged(schema))} cascade")
            cursor.execute(f"drop schema if exists {ident(previous(schema))} cascade")
            cursor.execute(f"create schema {ident(staged(schema))}")
            for statement in _privilege_grants(cursor, schema, staged(schema)):
                cursor.execute(statement)
        for schema in CARRIED_SCHEMAS:
            for table in _tables(cursor, schema):
                source, clone = f"{ident(schema)}.{ident(table)}", f"{ident(staged(schema))}.{ident(table)}"
                cursor.execute(f"create table {clone} (like {source} including all)")
                cursor.execute(f"insert into {clone} select * from {source}")


def _tables(cursor: Any, schema: str) -> list[str]:  # noqa: ANN401 - a psycopg2 cursor
    cursor.execute(
        "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('r', 'p') order by c.relname",
        [schema],
    )
    return [name for (name,) in cursor.fetchall()]


def _privilege_grants(cursor: Any, schema: str, onto: str) -> list[str]:  # noqa: ANN401 - a psycopg2 cursor
    """GRANT statements giving schema `onto` the privileges granted on `schema` (BI roles keep USAGE across
    a publish); none when `schema` does not exist yet."""
    cursor.execute(
        """
        select
            case when acl.grantee = 0 then 'public' else quote_ident(roles.rolname) end,
            acl.privilege_type,
            acl.is_grantable
        from pg_namespace as ns
        cross join lateral aclexplode(ns.nspacl) as acl
        left join pg_roles as roles on roles.oid = acl.grantee
        where ns.nspname = %s and acl.grantee <> ns.nspowner
        """,
        [schema],
    )
    return [
        f"grant {privilege} on schema {ident(onto)} to {grantee}"
        + (" with grant option" if grantable else "")
        for grantee, privilege, grantable in cursor.fetchall()
    ]


# ----------------------------------------------------------------------------------------------------
# 3. Audit
# ----------------------------------------------------------------------------------------------------


def staged_lead_count(con: Any) -> int:  # noqa: ANN401 - a psycopg2 connection
    with con, con.cursor() as cursor:
        cursor.execute(f"select count(*) from {ident(staged('marts'))}.lead_scores")
        return int(cursor.fetchone()[0])


def audit_staged(
    con: Any,  # noqa: ANN401 - a psycopg2 connection
    bounds: DriftBounds | None = None,
    check_drift: bool = True,
) -> list[Outcome]:
    """The Great Expectations suites on the staged marts, drift against the last run published here."""
    with con, con.cursor() as cursor:

        def query(sql: str) -> pd.DataFrame:
            cursor.execute(sql)
            return _frame(cursor)

        frames = read_mart_frames(query, marts=ident(staged("marts")))
        cursor.execute("select to_regclass(%s) is not null", [AUDIT_TABLE])
        frames["last_run"] = (
            query(f"select * from {AUDIT_TABLE} order by published_at desc limit 1")
            if cursor.fetchone()[0]
            else pd.DataFrame()
        )
    return validate_frames(frames, bounds, check_drift)


def _frame(cursor: Any) -> pd.DataFrame:  # noqa: ANN401 - a psycopg2 cursor
    """The cursor's rows as a dataframe, numeric columns as floats (as DuckDB's .df() gives decimals)."""
    names = [column[0] for column in cursor.description]
    return decimals_as_floats(pd.DataFrame.from_records(cursor.fetchall(), columns=names))


def decimals_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its columns of Decimal values as floats (psycopg2 and pyspark give decimals as
    Decimal objects, DuckDB as floats: the audit reads floats)."""
    for name in frame.columns:
        values = frame[name].dropna()
        if len(values) and all(isinstance(value, Decimal) for value in values):
            frame[name] = frame[name].astype(float)
    return frame


# ----------------------------------------------------------------------------------------------------
# 4. Publish
# ----------------------------------------------------------------------------------------------------


def publish_staged(
    con: Any,  # noqa: ANN401 - a psycopg2 connection
    build_id: str,
    as_of: date,
    scoring_version: str,
    wait_seconds: float | None = None,
) -> None:
    """Swap the staged schemas in for the served ones and record the run, in one transaction; retry while
    readers hold the served tables, up to wait_seconds (then PublishError, nothing published)."""
    import psycopg2.errors

    wait = publish_wait_seconds() if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait
    attempts = 0
    while True:
        attempts += 1
        try:
            with con, con.cursor() as cursor:
                _swap(cursor)
                _record_run(cursor, build_id, as_of, scoring_version)
            return
        except psycopg2.errors.LockNotAvailable as exc:
            if time.monotonic() >= deadline:
                raise PublishError(
                    f"readers kept the served tables locked for {wait:.0f} s ({attempts} attempts to swap); "
                    "not published: the previous build is still served "
                    "(LEADSCORE_PG_PUBLISH_WAIT_SECONDS sets the wait)"
                ) from exc
            time.sleep(PUBLISH_RETRY_PAUSE_SECONDS)


def _swap(cursor: Any) -> None:  # noqa: ANN401 - a psycopg2 cursor
    cursor.execute(f"set local lock_timeout = '{PUBLISH_LOCK_TIMEOUT}'")
    cursor.execute(
        "select quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
        " from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f')"
        " order by n.nspname, c.relname",
        [list(SERVED_SCHEMAS)],
    )
    live = [name for (name,) in cursor.fetchall()]
    if live:
        cursor.execute(f"lock table {', '.join(live)} in access exclusive mode")
    cursor.execute("select nspname from pg_namespace where nspname = any(%s)", [list(SERVED_SCHEMAS)])
    existing = {name for (name,) in cursor.fetchall()}
    for schema in SERVED_SCHEMAS:
        if schema in existing:
            cursor.execute(f"alter schema {ident(schema)} rename to {ident(previous(schema))}")
        cursor.execute(f"alter schema {ident(staged(schema))} rename to {ident(schema)}")
    for schema in SERVED_SCHEMAS:
        if schema in existing:
            cursor.execute(f"drop schema {ident(previous(schema))} cascade")


def _record_run(cursor: Any, build_id: str, as_of: date, scoring_version: str) -> None:  # noqa: ANN401
    """Append the published run to audit.published_runs (the next build's drift reference), the columns
    DuckDB's record_published_run writes that apply here."""
    cursor.execute("create schema if not exists audit")
    cursor.execute(
        f"""
        create table if not exists {AUDIT_TABLE} (
            build_id text, as_of_date date, lead_count bigint, mean_score double precision,
            mql_share double precision, published_at timestamp, scoring_version text
        )
        """
    )
    cursor.execute(
        f"""
        insert into {AUDIT_TABLE}
            (build_id, as_of_date, lead_count, mean_score, mql_share, published_at, scoring_version)
        select
            %s, %s, count(*), avg(score_total), avg(case when is_mql then 1.0 else 0.0 end),
            clock_timestamp() at time zone 'UTC', %s
        from marts.lead_scores
        """,
        [build_id, as_of, scoring_version],
    )


# ----------------------------------------------------------------------------------------------------
# Spark: a database per build, served through views
# ----------------------------------------------------------------------------------------------------
#
# Spark's metastore has no transaction over several tables and cannot rename a database, so a Spark build
# writes the served schemas into databases of its own, `<schema>__b<build id>` (spark_vars; the carried
# tables are copied in by macro carried_tables_cloned inside dbt's process, since the embedded metastore
# admits one process at a time), is audited there, and is published by pointing each served name
# (`marts.lead_scores`, ...) at it: `create or replace view`, one metastore update per view. A reader's query
# of one table reads one whole build; a query of two tables during the swap may read them from two builds.
# The databases of the previous published build stay (a query that started on them finishes); older ones
# and those of failed builds are dropped by the next publish.

SPARK_BUILD_DATABASE = re.compile(r"^(?:" + "|".join(SERVED_SCHEMAS) + r")__b\d{8}t\d{6}z_[0-9a-f]+$")


def spark_suffix(build_id: str) -> str:
    """The database suffix of a Spark build (`__b20261031t101500z_abc123`)."""
    return "__b" + build_id.lower().replace("-", "_")


def spark_vars(build_id: str) -> dict[str, Any]:
    """The dbt vars of a Spark build: the served schemas under the build's suffix, the history carried."""
    return {
        "staged_schemas": list(SERVED_SCHEMAS),
        "staged_schema_suffix": spark_suffix(build_id),
        "carried_schemas": list(CARRIED_SCHEMAS),
    }


def audit_spark(
    spark: Any,  # noqa: ANN401 - a SparkSession
    build_id: str,
    bounds: DriftBounds | None = None,
    check_drift: bool = True,
) -> list[Outcome]:
    """The Great Expectations suites on the build's marts database (dataframes read by Spark SQL)."""

    def query(sql: str) -> pd.DataFrame:
        return decimals_as_floats(spark.sql(sql).toPandas())

    frames = read_mart_frames(query, marts="marts" + spark_suffix(build_id))
    frames["last_run"] = (
        query(f"select * from {AUDIT_TABLE} order by published_at desc limit 1")
        if spark.catalog.tableExists(AUDIT_TABLE)
        else pd.DataFrame()
    )
    return validate_frames(frames, bounds, check_drift)


def spark_lead_count(spark: Any, build_id: str) -> int:  # noqa: ANN401 - a SparkSession
    return int(spark.sql(f"select count(*) as n from marts{spark_suffix(build_id)}.lead_scores").first()["n"])


def publish_spark(spark: Any, build_id: str, as_of: date, scoring_version: str) -> None:  # noqa: ANN401
    """Point every served name at the build's tables (a view each), record the run, and drop the databases
    of builds older than the previous published one and of failed builds."""
    suffix = spark_suffix(build_id)
    kept = {f"{schema}{suffix}" for schema in SERVED_SCHEMAS}
    for schema in SERVED_SCHEMAS:
        spark.sql(f"create database if not exists {schema}")
        served = {t.name: t.tableType for t in spark.catalog.listTables(schema) if not t.isTemporary}
        built = [t.name for t in spark.catalog.listTables(schema + suffix) if not t.isTemporary]
        for name, kind in served.items():
            if kind == "VIEW":
                kept |= _view_databases(spark, f"{schema}.{name}")
        for name in built:
            if served.get(name, "VIEW") != "VIEW":  # a table of a build before publishing by views
                spark.sql(f"drop table {schema}.{name}")
            spark.sql(f"create or replace view {schema}.{name} as select * from {schema}{suffix}.{name}")
        for name in sorted(set(served) - set(built)):  # a model no longer built
            spark.sql(f"drop {'view' if served[name] == 'VIEW' else 'table'} {schema}.{name}")
    spark.sql("create database if not exists audit")
    spark.sql(
        f"""
        create table if not exists {AUDIT_TABLE} (
            build_id string, as_of_date date, lead_count bigint, mean_score double, mql_share double,
            published_at timestamp, scoring_version string
        ) using parquet
        """
    )
    spark.sql(
        f"""
        insert into {AUDIT_TABLE}
        select
            '{build_id}', date'{as_of.isoformat()}', count(*), avg(score_total),
            avg(case when is_mql then 1.0 else 0.0 end), current_timestamp(), '{scoring_version}'
        from marts.lead_scores
        """
    )
    for database in spark.catalog.listDatabases():
        if SPARK_BUILD_DATABASE.match(database.name) and database.name not in kept:
            spark.sql(f"drop database {database.name} cascade")


def _view_databases(spark: Any, view: str) -> set[str]:  # noqa: ANN401 - a SparkSession
    """The build databases a served view reads (the previous published build, before the swap)."""
    text = " ".join(
        str(row["data_type"])
        for row in spark.sql(f"describe table extended {view}").collect()
        if row["col_name"] == "View Text"
    )
    return {name for name in re.findall(r"\b(\w+__b\w+)\.", text) if SPARK_BUILD_DATABASE.match(name)}


def ident(name: str) -> str:
    """A double-quoted PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'
