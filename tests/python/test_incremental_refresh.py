"""Incremental refresh: the engagement and negative state read only new events, and the scores equal a full
rebuild's to 1e-9, across appended events and leads, an as-of change and a point-table change.

One warehouse is refreshed step by step as data arrives; after each step a copy of it is rebuilt with
`--full-refresh` at the same as-of date, and every score column of the marts must agree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.python.conftest import Project, pipeline_db
from tests.python.rule_seeds import narrow_event_rules

END = "2026-10-31"
SCORE_KEYS = {"lead_scores": ["lead_id"], "lead_score_breakdown": ["breakdown_id"]}
IGNORED = {"build_id", "built_at", "scored_at", "published_at"}
TOLERANCE = 1e-9


def leadscore(project: Project, warehouse: Path, *args: str) -> str:
    """Run the real CLI on a warehouse file; return its output (fail with it if the command fails). dbt's
    target folder is the project's for the project's warehouse, else one beside the warehouse file."""
    env = project.env()
    env["LEADSCORE_DUCKDB_PATH"] = str(warehouse)
    if warehouse != project.warehouse:
        env["DBT_TARGET_PATH"] = str(warehouse.parent / "target")
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("leadscore")), *args],
        env=env,
        cwd=project.dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, f"leadscore {' '.join(args)}:\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


def decisions(output: str) -> dict[str, str]:
    """The event-state models of the build summary's line `incremental models: name refreshed, ...` (the
    lead-level tables are patched only at an unchanged as-of date: test_lead_patching)."""
    line = next(line for line in output.splitlines() if line.startswith("incremental models: "))
    return dict(re.findall(r"(int_\w*event\w*) (refreshed|rebuilt)", line))


def split_demo_data(full: Path, base: Path, day_one: Path, day_two: Path) -> None:
    """Base: the leads but the last 10 %, events before Oct 25, orders. Day one: events of Oct 25-28 plus a
    late event from August. Day two: events of Oct 29-31, the missing leads (whose earlier events were
    rejected as unknown until then), a second copy of a base event and of a base lead (duplicates to
    reject)."""
    for folder in (base, day_one, day_two):
        folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE leads AS SELECT * FROM read_parquet('{full / 'leads.parquet'}')")
    con.execute(
        f"CREATE TABLE events AS SELECT *, try_cast(occurred_at AS TIMESTAMPTZ) AS _at "
        f"FROM read_parquet('{full / 'events.parquet'}')"
    )
    late = con.execute(
        "SELECT event_id FROM events WHERE _at < TIMESTAMPTZ '2026-09-01' ORDER BY event_id LIMIT 1"
    ).fetchone()[0]
    duplicated = con.execute(
        "SELECT event_id FROM events WHERE _at < TIMESTAMPTZ '2026-10-01' ORDER BY event_id DESC LIMIT 1"
    ).fetchone()[0]
    cols = "event_id, lead_id, event_type, occurred_at, properties"
    con.execute(
        f"COPY (SELECT * EXCLUDE (_at) FROM events WHERE _at < TIMESTAMPTZ '2026-10-25' "
        f"AND event_id <> '{late}') TO '{base / 'events.parquet'}'"
    )
    con.execute(
        f"COPY (SELECT {cols} FROM events WHERE (_at >= TIMESTAMPTZ '2026-10-25' "
        f"AND _at < TIMESTAMPTZ '2026-10-29') OR event_id = '{late}') TO '{day_one / 'events.parquet'}'"
    )
    con.execute(
        f"COPY (SELECT {cols} FROM events WHERE _at >= TIMESTAMPTZ '2026-10-29' "
        f"UNION ALL SELECT {cols} FROM events WHERE event_id = '{duplicated}') "
        f"TO '{day_two / 'events.parquet'}'"
    )
    held_back = "lead_id >= (SELECT quantile_disc(lead_id, 0.9) FROM leads)"
    con.execute(f"COPY (SELECT * FROM leads WHERE NOT ({held_back})) TO '{base / 'leads.parquet'}'")
    con.execute(
        f"COPY (SELECT * FROM leads WHERE {held_back} "
        f"UNION ALL (SELECT * FROM leads ORDER BY lead_id LIMIT 1)) TO '{day_two / 'leads.parquet'}'"
    )
    shutil.copy(full / "orders.parquet", base / "orders.parquet")
    con.close()


def assert_same_scores(incremental: Path, full: Path) -> int:
    """Every column of the score marts equal (numbers within 1e-9) between two warehouses; return rows."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{incremental}' AS inc (READ_ONLY)")
    con.execute(f"ATTACH '{full}' AS ful (READ_ONLY)")
    compared = 0
    for table, keys in SCORE_KEYS.items():
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'inc' AND table_schema = 'marts' AND table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        counts = [
            con.execute(f"SELECT count(*) FROM {db}.marts.{table}").fetchone()[0] for db in ("inc", "ful")
        ]
        assert counts[0] == counts[1], (
            f"{table}: {counts[0]} rows incrementally, {counts[1]} in a full rebuild"
        )
        join = " AND ".join(f"i.{key} = f.{key}" for key in keys)
        matched = con.execute(
            f"SELECT count(*) FROM inc.marts.{table} AS i JOIN ful.marts.{table} AS f ON {join}"
        ).fetchone()[0]
        assert matched == counts[0], f"{table}: only {matched} of {counts[0]} keys in both builds"
        for column, data_type in columns:
            if column in IGNORED:
                continue
            numeric = data_type.startswith(("DOUBLE", "DECIMAL", "INTEGER", "BIGINT", "FLOAT", "HUGEINT"))
            differs = (
                f"abs(i.{column} - f.{column}) > {TOLERANCE} OR (i.{column} IS NULL) <> (f.{column} IS NULL)"
                if numeric
                else f"i.{column} IS DISTINCT FROM f.{column}"
            )
            bad = con.execute(
                f"SELECT {', '.join('i.' + key for key in keys)}, i.{column}, f.{column} "
                f"FROM inc.marts.{table} AS i JOIN ful.marts.{table} AS f ON {join} WHERE {differs} LIMIT 3"
            ).fetchall()
            assert not bad, f"{table}.{column}: incremental vs full rebuild differ, e.g. {bad}"
        compared += counts[0]
    con.close()
    return compared


def assert_same_validated_leads(incremental: Path, full: Path) -> None:
    """int_leads_validated, validated load by load, holds exactly the rows and columns of a full rebuild."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{pipeline_db(incremental)}' AS inc (READ_ONLY)")
    con.execute(f"ATTACH '{pipeline_db(full)}' AS ful (READ_ONLY)")
    table = "intermediate.int_leads_validated"
    for left, right in (("inc", "ful"), ("ful", "inc")):
        extra = con.execute(
            f"SELECT lead_id, loaded_at, reject_reason FROM "
            f"(SELECT * FROM {left}.{table} EXCEPT ALL SELECT * FROM {right}.{table}) LIMIT 3"
        ).fetchall()
        assert not extra, f"int_leads_validated: rows in {left} but not in {right}, e.g. {extra}"
    con.close()


def full_rebuild_of(project: Project, incremental: Path, as_of: str, folder: Path) -> Path:
    """A copy of the incremental warehouse (same raw data) rebuilt in full at the same as-of date, in folder.
    The folder's earlier warehouse files are removed first; its dbt target folder is kept, so that a rebuild
    at the same path re-parses only what changed since the last one."""
    folder.mkdir(exist_ok=True)
    for stale in folder.iterdir():
        if stale.name != "target":
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    copy = folder / "full.duckdb"
    shutil.copyfile(incremental, copy)
    shutil.copyfile(pipeline_db(incremental), pipeline_db(copy))
    output = leadscore(project, copy, "build", "--as-of", as_of, "--full-refresh", "--accept-drift")
    assert set(decisions(output).values()) == {"rebuilt"}, output
    return copy


def test_incremental_refreshes_equal_full_rebuilds(project: Project, tmp_path: Path) -> None:
    full_data, base, day_one, day_two = (tmp_path / name for name in ("full", "base", "day1", "day2"))
    warehouse, rebuilt = project.warehouse, tmp_path / "rebuilt"
    leadscore(project, warehouse, "demo-data", "--leads", "400", "--seed", "7", "--out", str(full_data),
              "--end-date", END)  # fmt: skip
    split_demo_data(full_data, base, day_one, day_two)

    leadscore(project, warehouse, "load", str(base))
    first = leadscore(project, warehouse, "build", "--as-of", "2026-10-24")
    assert set(decisions(first).values()) == {"rebuilt"}, first

    # Events arrive: only they are read; decayed sums carried from Oct 24 to Oct 28.
    leadscore(project, warehouse, "load", "--append", str(day_one))
    step = leadscore(project, warehouse, "build", "--as-of", "2026-10-28", "--accept-drift")
    assert set(decisions(step).values()) == {"refreshed"}, step

    # Events and the held-back leads arrive, with a duplicate of an old event.
    leadscore(project, warehouse, "load", "--append", str(day_two))
    step = leadscore(project, warehouse, "build", "--as-of", END, "--accept-drift")
    assert set(decisions(step).values()) == {"refreshed"}, step
    assert assert_same_scores(warehouse, full_rebuild_of(project, warehouse, END, rebuilt)) > 400
    with duckdb.connect(str(pipeline_db(warehouse)), read_only=True) as con:
        batches = con.execute(
            "SELECT count(DISTINCT validated_at), "
            "count(*) FILTER (WHERE reject_reason = 'duplicate_event_id') "
            "FROM intermediate.int_events_validated"
        ).fetchone()
        unknown = con.execute(
            "SELECT count(*) FROM intermediate.int_events_validated "
            "WHERE reject_reason = 'unknown_or_rejected_lead'"
        ).fetchone()[0]
        duplicate_leads = con.execute(
            "SELECT count(*) FROM intermediate.int_leads_validated WHERE reject_reason = 'duplicate_lead_id'"
        ).fetchone()[0]
    assert batches[0] >= 3, "the validated events were rebuilt instead of refreshed"
    assert batches[1] == 1, "the second copy of an old event was not rejected as a duplicate"
    assert unknown == 0, "events of leads that arrived later are still rejected"
    assert "int_leads_validated refreshed" in step, step
    assert duplicate_leads == 1, "the second copy of a base lead was not rejected as a duplicate"
    assert_same_validated_leads(warehouse, rebuilt / "full.duckdb")

    # The as-of date moves on with no new data: decay carried forward, days re-windowed.
    step = leadscore(project, warehouse, "build", "--as-of", "2026-11-20", "--accept-drift")
    assert decisions(step)["int_lead_event_types_decayed"] == "refreshed", step
    assert assert_same_scores(warehouse, full_rebuild_of(project, warehouse, "2026-11-20", rebuilt))

    # A point-table change: new half-lives, event rules narrowed by a url (the event types stay the same) and a
    # windowed negative rule force a rebuild of what they affect, and of nothing else.
    points = project.dir / "seeds" / "engagement_event_points.csv"
    points.write_text(
        points.read_text().replace(
            "page_view,page_view,,,,discovery,1,10,30,", "page_view,page_view,,,,discovery,1,10,20,"
        )
    )
    narrow_event_rules(project.dir / "seeds")
    rules = project.dir / "seeds" / "negative_rules.csv"
    unsubscribed = "unsubscribed,event,unsubscribe,,,"
    rules.write_text(rules.read_text().replace(unsubscribed + ",1,", unsubscribed + "60,1,"))
    step = leadscore(project, warehouse, "build", "--as-of", "2026-11-20", "--accept-drift")
    assert decisions(step) == {
        "int_events_validated": "refreshed",
        "int_lead_event_days_counted": "refreshed",
        "int_lead_event_types_decayed": "rebuilt",
    }, step
    assert assert_same_scores(warehouse, full_rebuild_of(project, warehouse, "2026-11-20", rebuilt))
    with duckdb.connect(str(pipeline_db(warehouse)), read_only=True) as con:
        narrowed = con.execute(
            "SELECT count(DISTINCT event_rule) FROM intermediate.int_lead_event_types_decayed "
            "WHERE event_rule IN ('careers_page', 'product_page', 'ebook_download')"
        ).fetchone()[0]
    assert narrowed == 3, "the narrowed rules took no events"

    # A rule's cap and buying stage are applied after the decayed sums: the state is carried, still exact.
    points.write_text(
        points.read_text().replace(
            "product_page,page_view,url,^/(product|features),,discovery,2,10,",
            "product_page,page_view,url,^/(product|features),,evaluation,2,4,",
        )
    )
    step = leadscore(project, warehouse, "build", "--as-of", "2026-11-20", "--accept-drift")
    assert set(decisions(step).values()) == {"refreshed"}, step
    assert assert_same_scores(warehouse, full_rebuild_of(project, warehouse, "2026-11-20", rebuilt))

    # Moving the as-of date back cannot be carried (decay only runs forward): rebuilt, still exact.
    step = leadscore(project, warehouse, "build", "--as-of", "2026-10-30", "--accept-drift")
    assert decisions(step)["int_lead_event_types_decayed"] == "rebuilt", step
    assert assert_same_scores(warehouse, full_rebuild_of(project, warehouse, "2026-10-30", rebuilt))


def test_append_refuses_a_column_the_raw_table_lacks(project: Project, tmp_path: Path) -> None:
    data, extra = tmp_path / "data", tmp_path / "extra"
    warehouse = tmp_path / "w" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    leadscore(project, warehouse, "demo-data", "--leads", "50", "--out", str(data), "--end-date", END)
    leadscore(project, warehouse, "load", str(data))
    extra.mkdir()
    (extra / "events.csv").write_text(
        "event_id,lead_id,event_type,occurred_at,properties,channel\n"
        "EX1,L0000001,page_view,2026-11-01T10:00:00Z,{},web\n"
    )
    env = project.env()
    env["LEADSCORE_DUCKDB_PATH"] = str(warehouse)
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("leadscore")), "load", "--append", str(extra)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert "events.csv line 1, column channel: not a column of raw.events" in completed.stderr
    with duckdb.connect(str(pipeline_db(warehouse)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.events WHERE event_id = 'EX1'").fetchone()[0] == 0


def test_append_needs_a_full_load_first(project: Project, tmp_path: Path) -> None:
    data = tmp_path / "data"
    warehouse = tmp_path / "w" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    leadscore(project, warehouse, "demo-data", "--leads", "20", "--out", str(data), "--end-date", END)
    env = project.env()
    env["LEADSCORE_DUCKDB_PATH"] = str(warehouse)
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("leadscore")), "load", "--append", str(data)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert "cannot append to raw.leads, which does not exist yet" in completed.stderr
