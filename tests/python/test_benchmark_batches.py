"""The benchmark's intraday batch: the events of a five-minute window, cut from a generated day as they are, so
that (b5) appends what a refresh every few minutes would receive."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.bench.benchmarks import write_event_window


def test_the_window_keeps_exactly_the_events_that_occurred_in_it_with_their_text_untouched(
    tmp_path: Path,
) -> None:
    events = tmp_path / "day" / "events.parquet"
    events.parent.mkdir()
    rows = [
        ("E1", "L1", "page_view", "2026-11-02T09:59:59Z", '{"url": "/a"}'),  # one second before
        ("E2", "L1", "email_open", "2026-11-02T10:00:00Z", "{}"),  # the first instant: in
        ("E3", "L2", "form_submit", "2026-11-02T12:04:59+02:00", None),  # 10:04:59 UTC: in
        ("E4", "L3", "page_view", "2026-11-02 10:02:30", '{"url": "/b"}'),  # no offset is UTC: in
        ("E5", "L3", "page_view", "2026-11-02T10:05:00Z", "{}"),  # the end is excluded
        ("E6", "L4", "page_view", "not a time", "{}"),  # unparseable: in no window
    ]
    with duckdb.connect() as con:
        con.execute(
            "create table e (event_id varchar, lead_id varchar, event_type varchar, occurred_at varchar,"
            " properties varchar)"
        )
        con.executemany("insert into e values (?, ?, ?, ?, ?)", rows)
        con.execute(f"copy e to '{events.as_posix()}' (format parquet)")

    out = tmp_path / "batch"
    count = write_event_window(events, out, datetime(2026, 11, 2, 10, 0), 5)

    with duckdb.connect() as con:
        written = con.execute(
            f"select * from read_parquet('{(out / 'events.parquet').as_posix()}') order by event_id"
        ).fetchall()
        columns = [d[0] for d in con.description]
    assert count == 3
    assert columns == ["event_id", "lead_id", "event_type", "occurred_at", "properties"]
    assert written == [rows[1], rows[2], rows[3]]
