"""Patching refresh: at an unchanged as-of date, a build rescores only the leads with new lead, event or order
rows, re-ranks every lead, and the marts equal a full rebuild's to 1e-9, including a negative rule that stops
firing (its row must go) and new leads whose earlier events and orders were rejected until they arrived.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from orchestration.build.lead_patching import patch_parameters
from orchestration.build.pipeline import code_version, scoring_version
from tests.python.conftest import Project, pipeline_db
from tests.python.rule_seeds import use_quantile_rfm_bands
from tests.python.test_incremental_refresh import assert_same_scores, full_rebuild_of, leadscore

END = "2026-10-31"


def lead_tables_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("lead tables: "))


def build_id_of(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("build ")).split()[1].rstrip(":")


def split_by_arrival(full: Path, base: Path, day: Path) -> None:
    """Base: the leads but the last 10 %, the events before Oct 29, the orders before Oct 15. Day: the rest
    (all dated on or before the as-of date, so the same as-of date sees them)."""
    for folder in (base, day):
        folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("leads", "events", "orders"):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet('{full / (table + '.parquet')}')")
    held_back = "lead_id >= (SELECT quantile_disc(lead_id, 0.9) FROM leads)"
    early_event = "try_cast(occurred_at AS TIMESTAMPTZ) < TIMESTAMPTZ '2026-10-29'"
    early_order = "try_cast(ordered_at AS TIMESTAMPTZ) < TIMESTAMPTZ '2026-10-15'"
    for table, condition in (
        ("leads", f"NOT ({held_back})"),
        ("events", early_event),
        ("orders", early_order),
    ):
        con.execute(f"COPY (SELECT * FROM {table} WHERE {condition}) TO '{base / (table + '.parquet')}'")
        con.execute(
            f"COPY (SELECT * FROM {table} WHERE NOT coalesce({condition}, false)) "
            f"TO '{day / (table + '.parquet')}'"
        )
    con.close()


def add_activity_for_an_inactive_lead(warehouse: Path, day: Path) -> str:
    """Append to the day's events a page view on the as-of date for a lead the inactivity rule fired on."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        lead_id = con.execute(
            "SELECT min(lead_id) FROM marts.lead_score_breakdown WHERE rule_key = 'inactive'"
        ).fetchone()[0]
    assert lead_id, "the demo data has no inactive lead to wake up"
    con = duckdb.connect()
    events = day / "events.parquet"
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{events}')")
    con.execute(
        "INSERT INTO events BY NAME SELECT 'wake-up-event' AS event_id, ? AS lead_id, "
        "'page_view' AS event_type, '2026-10-31T12:00:00Z' AS occurred_at",
        [lead_id],
    )
    con.execute(f"COPY events TO '{events}'")
    con.close()
    return lead_id


def base_loaded(project: Project, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Demo data split by arrival, the base loaded into the project's warehouse: (warehouse, base, day)."""
    full_data, base, day = (tmp_path / name for name in ("full", "base", "day"))
    leadscore(project, project.warehouse, "demo-data", "--leads", "400", "--seed", "11", "--out",
              str(full_data), "--end-date", END)  # fmt: skip
    split_by_arrival(full_data, base, day)
    leadscore(project, project.warehouse, "load", str(base))
    return project.warehouse, base, day


def rescored_leads(line: str) -> int:
    """The number of leads a `lead tables: patched, N leads rescored (...)` line says were rescored."""
    return int(line.split("patched, ")[1].split(" leads")[0].replace(",", ""))


def test_same_day_refresh_patches_changed_leads_only(project: Project, tmp_path: Path) -> None:
    warehouse, base, day = base_loaded(project, tmp_path)
    first = leadscore(project, warehouse, "build", "--as-of", END)
    assert lead_tables_line(first).startswith("lead tables: rebuilt"), first

    # Nothing new: nothing rescored; lead_scores carries the new build, the breakdown rows the build that
    # computed them.
    again = leadscore(project, warehouse, "build", "--as-of", END)
    assert "patched, 0 leads rescored" in lead_tables_line(again), again
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stamps = con.execute(
            "SELECT (SELECT list(DISTINCT build_id) FROM marts.lead_scores), "
            "(SELECT list(DISTINCT build_id) FROM marts.lead_score_breakdown)"
        ).fetchone()
    assert stamps == ([build_id_of(again)], [build_id_of(first)]), stamps

    # The day's rows arrive: new leads, their earlier events and orders, and activity for an inactive lead.
    woken = add_activity_for_an_inactive_lead(warehouse, day)
    leadscore(project, warehouse, "load", "--append", str(day))
    step = leadscore(project, warehouse, "build", "--as-of", END, "--accept-drift")
    line = lead_tables_line(step)
    assert line.startswith("lead tables: patched"), step
    rescored = rescored_leads(line)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scored = con.execute("SELECT count(*) FROM marts.lead_scores").fetchone()[0]
        still_inactive = con.execute(
            "SELECT count(*) FROM marts.lead_score_breakdown WHERE lead_id = ? AND rule_key = 'inactive'",
            [woken],
        ).fetchone()[0]
    assert 0 < rescored < scored, (rescored, scored)
    assert still_inactive == 0, f"{woken} has new activity but keeps its inactivity rule"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        writers = con.execute(
            "SELECT count(DISTINCT lead_id) FILTER (WHERE build_id = ?), "
            "count(DISTINCT lead_id) FILTER (WHERE build_id = ?) FROM marts.lead_score_breakdown",
            [build_id_of(step), build_id_of(first)],
        ).fetchone()
    # The rescored leads' rows are this build's; every other lead's rows are the first build's.
    assert 0 < writers[0] <= rescored and sum(writers) == scored, (writers, rescored, scored)
    assert assert_same_scores(warehouse, full_rebuild_of(project, warehouse, END, tmp_path / "f1")) > 400

    # A full load replaces the raw rows the last build read: the next build must rebuild, not patch.
    versions = (scoring_version(project.dir), code_version(project.dir))
    assert patch_parameters(pipeline_db(warehouse), versions, date.fromisoformat(END))[0]
    leadscore(project, warehouse, "load", str(base))
    params, why = patch_parameters(pipeline_db(warehouse), versions, date.fromisoformat(END))
    assert params == {} and "replaced" in why, why


def rfm_scores(warehouse: Path) -> dict[str, tuple[int, int, int]]:
    with duckdb.connect(str(pipeline_db(warehouse)), read_only=True) as con:
        rows = con.execute(
            "SELECT lead_id, recency_score, frequency_score, monetary_score FROM intermediate.int_leads_rfm_scored"
        ).fetchall()
    return {lead_id: (recency, frequency, monetary) for lead_id, recency, frequency, monetary in rows}


def test_quantile_rfm_bands_rescore_every_customer_when_orders_arrive(
    project: Project, tmp_path: Path
) -> None:
    # Quintile bands rank a customer among all customers: new orders move other customers' bands, so the
    # patch rescores every customer (int_leads_changed), and still equals a full rebuild.
    use_quantile_rfm_bands(project.dir / "seeds")
    warehouse, _, day = base_loaded(project, tmp_path)
    leadscore(project, warehouse, "build", "--as-of", END)
    before = rfm_scores(warehouse)

    leadscore(project, warehouse, "load", "--append", str(day))
    step = leadscore(project, warehouse, "build", "--as-of", END, "--accept-drift")
    line = lead_tables_line(step)
    assert line.startswith("lead tables: patched"), step
    rescored = rescored_leads(line)
    rebuilt = full_rebuild_of(project, warehouse, END, tmp_path / "f1")
    after = rfm_scores(rebuilt)
    with duckdb.connect(str(pipeline_db(warehouse)), read_only=True) as con:
        arrived = {
            lead_id
            for (lead_id,) in con.execute(
                "SELECT lead_id FROM raw.orders WHERE _loaded_at = (SELECT max(_loaded_at) FROM raw.orders) "
                "UNION SELECT lead_id FROM raw.events WHERE _loaded_at = (SELECT max(_loaded_at) FROM raw.events) "
                "UNION SELECT lead_id FROM raw.leads WHERE _loaded_at = (SELECT max(_loaded_at) FROM raw.leads)"
            ).fetchall()
        }
    # Customers with no new row whose band the new orders moved (in the full rebuild): a patch of the leads
    # with new rows only would leave them stale.
    moved = {lead for lead, scores in before.items() if lead not in arrived and after.get(lead) != scores}
    assert moved, "no customer without new rows changed band: the test would not catch a missed rescore"
    assert rescored >= len(after), (rescored, len(after))
    assert assert_same_scores(warehouse, rebuilt) > 400
