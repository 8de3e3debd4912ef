"""Write-audit-publish on PostgreSQL: BI reads only complete, audited builds, and a new one appears in one step.

A real PostgreSQL server (started for the test) and the real `leadscore` CLI. After a first published build,
a reader queries the served marts in a loop, each time in one REPEATABLE READ transaction: the row count and
build ids of marts.lead_scores, then those of marts.lead_score_breakdown. Meanwhile three builds fail (a dbt
test, a Great Expectations expectation, a reader holding the served tables past the publish wait) and a
fourth passes. The reader must never error, must see only the first build while the failing ones run, and
must see every transaction wholly one build (never lead_scores of one and the breakdown of another), the
first build until the passing one is published and that one from then on. The score history carries over:
the failed builds leave it as it was, the passing one adds its day beside the first one's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2
import pytest
from engine_servers import PostgresServer, postgres_server
from test_engines import END_DATE, LEADS, Workspace

FIRST_AS_OF = "2026-10-30"
FAILING_TEST = "assert_no_lead_is_scored_in_this_test"
# A singular dbt test every build fails while it is in the project (what a real failed test does to a build).
FAILING_TEST_SQL = """-- A failure means the test's forced dbt test failure fired: it fails every build with a scored lead.
select lead_id from {{ ref('lead_scores') }}
"""
STAGED_AND_PREVIOUS = {"marts__staged", "history__staged", "marts__previous", "history__previous"}


@dataclass(frozen=True)
class Seen:
    """What one reader transaction saw: lead_scores' (count, min build_id, max build_id) and the
    breakdown's (distinct leads, min build_id, max build_id)."""

    at: float
    scores: tuple[int, str, str]
    breakdown: tuple[int, str, str]

    @property
    def build(self) -> str | None:
        """The one build this transaction saw, or None if it saw more than one."""
        ids = {self.scores[1], self.scores[2], self.breakdown[1], self.breakdown[2]}
        return ids.pop() if len(ids) == 1 and self.scores[0] == self.breakdown[0] else None


class Reader(threading.Thread):
    """Queries the served marts in a loop until stopped, as a BI tool would."""

    def __init__(self, server: PostgresServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        con = _connect(self.server)
        con.set_session(isolation_level="REPEATABLE READ")
        try:
            while not self.stop.is_set():
                try:
                    with con.cursor() as cursor:
                        cursor.execute("select count(*), min(build_id), max(build_id) from marts.lead_scores")
                        scores = cursor.fetchone()
                        cursor.execute(
                            "select count(distinct lead_id), min(build_id), max(build_id)"
                            " from marts.lead_score_breakdown"
                        )
                        breakdown = cursor.fetchone()
                    con.commit()
                    self.seen.append(Seen(time.monotonic(), scores, breakdown))
                except psycopg2.Error as exc:
                    con.rollback()
                    self.errors.append(f"{type(exc).__name__}: {exc}".strip())
                time.sleep(0.01)
        finally:
            con.close()

    def during(self, started: float, ended: float) -> list[Seen]:
        return [seen for seen in self.seen if started <= seen.at <= ended]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("publishing") / "demo"
    Workspace(tmp_path_factory.mktemp("generator")).leadscore(
        "demo-data", "--leads", LEADS, "--seed", "11", "--out", str(out), "--end-date", END_DATE,
        "--bad-rows", "0.01", "--format", "csv",
    )  # fmt: skip
    return out


def test_postgres_serves_only_complete_audited_builds(tmp_path: Path, demo_dir: Path, postgres):
    server = _fresh_database(postgres, "wap")
    ws = Workspace(tmp_path, extra_env=server.env())
    ws.leadscore("load", str(demo_dir), "--target", "postgres")
    first = ws.leadscore("build", "--as-of", FIRST_AS_OF, "--target", "postgres")
    assert "expectations passed" in first.stdout and "published marts, history" in first.stdout
    first_build = _query(server, "select min(build_id), max(build_id), count(*) from marts.lead_scores")
    first_id, _, lead_count = first_build
    assert first_build == (first_id, first_id, lead_count) and lead_count > 0
    assert not _schemas(server) & STAGED_AND_PREVIOUS
    history = _history(server)
    assert set(history) == {FIRST_AS_OF}

    reader = Reader(server)
    reader.start()
    try:
        while not reader.seen and not reader.errors:
            time.sleep(0.05)
        failing_started = time.monotonic()

        # 1. A dbt test fails: the staged marts were built, not published.
        test_file = ws.dir / "tests" / f"{FAILING_TEST}.sql"
        test_file.write_text(FAILING_TEST_SQL)
        failed = ws.leadscore("build", "--as-of", END_DATE, "--target", "postgres", check=False)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert FAILING_TEST in failed.stderr and "not published" in failed.stderr
        assert _query(server, "select count(distinct build_id) from marts__staged.lead_scores")[0] == 1
        assert _query(server, "select min(build_id) from marts__staged.lead_scores")[0] != first_id
        test_file.unlink()

        # 2. A Great Expectations expectation fails (drift bounds no build can meet).
        ws.extra_env["LEADSCORE_DRIFT_MEAN_SCORE"] = "-1"
        failed = ws.leadscore("build", "--as-of", END_DATE, "--target", "postgres", check=False)
        del ws.extra_env["LEADSCORE_DRIFT_MEAN_SCORE"]
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "quality expectations failed" in failed.stderr and "drift" in failed.stderr
        assert "not published" in failed.stderr

        # 3. The build passes its checks, but a reader's open transaction holds the served tables past the
        # publish wait: the swap gives up, the reader is never disturbed and still reads the first build.
        holder = _connect(server)
        holder.set_session(isolation_level="REPEATABLE READ")
        with holder.cursor() as cursor:
            cursor.execute("select min(build_id) from marts.lead_scores")
            assert cursor.fetchone()[0] == first_id
        ws.extra_env["LEADSCORE_PG_PUBLISH_WAIT_SECONDS"] = "2"
        failed = ws.leadscore("build", "--as-of", END_DATE, "--target", "postgres", check=False)
        del ws.extra_env["LEADSCORE_PG_PUBLISH_WAIT_SECONDS"]
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "readers kept the served tables locked" in failed.stderr
        with holder.cursor() as cursor:
            cursor.execute("select min(build_id), max(build_id) from marts.lead_score_breakdown")
            assert cursor.fetchone() == (first_id, first_id)
        holder.close()
        failing_ended = time.monotonic()

        # The failed builds changed nothing BI reads.
        assert _query(server, "select min(build_id), max(build_id), count(*) from marts.lead_scores") == (
            first_build
        )
        assert _history(server) == history
        assert _query(server, "select count(*) from audit.published_runs")[0] == 1

        # 4. A build that passes is published.
        passing_started = time.monotonic()
        passed = ws.leadscore("build", "--as-of", END_DATE, "--target", "postgres")
        passing_ended = time.monotonic()
        time.sleep(0.5)
    finally:
        reader.stop.set()
        reader.join(timeout=30)

    assert not reader.errors, reader.errors[:5]
    during_failures = reader.during(failing_started, failing_ended)
    assert len(during_failures) >= 20, f"the reader read only {len(during_failures)} times during the builds"
    assert {seen.build for seen in during_failures} == {first_id}
    assert {seen.scores[0] for seen in during_failures} == {lead_count}

    second_id = _query(server, "select min(build_id) from marts.lead_scores")[0]
    assert second_id != first_id and second_id in passed.stdout
    # Every transaction saw one whole build; the first until the swap, the second from then on.
    builds = [seen.build for seen in reader.seen]
    assert None not in builds, [seen for seen in reader.seen if seen.build is None][:3]
    switch = builds.index(second_id)
    assert set(builds[:switch]) == {first_id} and set(builds[switch:]) == {second_id}
    assert passing_started <= reader.seen[switch].at <= passing_ended + 0.5

    # The history carried over: the first build's day and the second's; the leftovers are gone.
    assert set(_history(server)) == {FIRST_AS_OF, END_DATE}
    assert _history(server)[FIRST_AS_OF] == history[FIRST_AS_OF]
    assert _query(server, "select count(*) from audit.published_runs")[0] == 2
    assert not _schemas(server) & STAGED_AND_PREVIOUS


def test_postgres_publish_keeps_schema_privileges(tmp_path: Path, demo_dir: Path, postgres):
    """A BI role granted USAGE on the served schemas keeps it across a publish (the schemas are new ones)."""
    server = _fresh_database(postgres, "grants")
    ws = Workspace(tmp_path, extra_env=server.env())
    ws.leadscore("load", str(demo_dir), "--target", "postgres")
    ws.leadscore("build", "--as-of", END_DATE, "--target", "postgres")
    _execute(server, "create role bi_reader nologin", "grant usage on schema marts, history to bi_reader")
    ws.leadscore("build", "--as-of", END_DATE, "--target", "postgres")
    for schema in ("marts", "history"):
        assert _query(server, f"select has_schema_privilege('bi_reader', '{schema}', 'USAGE')")[0]


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------


def _connect(server: PostgresServer):  # noqa: ANN202 - a psycopg2 connection
    return psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname=server.database)


def _fresh_database(server: PostgresServer, name: str) -> PostgresServer:
    con = _connect(server)
    con.autocommit = True
    with con.cursor() as cursor:
        cursor.execute(f"create database {name}")
    con.close()
    return replace(server, database=name)


def _query(server: PostgresServer, sql: str) -> tuple:
    con = _connect(server)
    try:
        with con.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        con.close()


def _execute(server: PostgresServer, *statements: str) -> None:
    con = _connect(server)
    con.autocommit = True
    try:
        with con.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        con.close()


def _schemas(server: PostgresServer) -> set[str]:
    con = _connect(server)
    try:
        with con.cursor() as cursor:
            cursor.execute("select nspname from pg_namespace")
            return {name for (name,) in cursor.fetchall()}
    finally:
        con.close()


def _history(server: PostgresServer) -> dict[str, tuple[int, str]]:
    """Per score date of the score history: its row count and build id."""
    con = _connect(server)
    try:
        with con.cursor() as cursor:
            cursor.execute(
                "select cast(score_date as text), count(*), min(build_id)"
                " from history.lead_score_history group by score_date"
            )
            return {day: (count, build) for day, count, build in cursor.fetchall()}
    finally:
        con.close()
