"""The benchmark run log: `leadscore bench` appends one row per measured step to benchmarks/runs.csv, with
paths relative to the project, and regenerates BENCHMARKS.md's table of the latest run per kind, size and
machine between its markers, leaving the hand-written rest alone."""

from __future__ import annotations

import csv
import re
import sys
import tempfile
from pathlib import Path

from orchestration.bench.benchmarks import (
    RUN_COLUMNS,
    RUNS_FILE,
    SUMMARY_END,
    SUMMARY_START,
    Measurement,
    StepFailed,
    append_runs,
    measure_subprocess,
    read_runs,
    relative_paths,
    run_rows,
    step_key,
    summary_table,
    update_summary,
)

REPO = Path(__file__).resolve().parents[2]
ABSOLUTE_PATH = re.compile(r"(?<![\w.<])/(?:work|tmp|check|root|home|var|private)/")


def test_step_keys_name_the_comparison_steps():
    assert step_key("(a) full build, 1,000,000 leads") == "a"
    assert step_key("(b5) refresh after five minutes of events (2,408, 10:00-10:05 UTC)") == "b5"
    assert step_key("load --append of the day's events") == "append-day"
    assert step_key("load --append of 266 events of 2026-11-02 10:00-10:05 UTC") == "append-window"
    assert step_key("demo-data --leads 1,000,000") == "demo-data"
    assert step_key("build (every model and test), 1,000 leads") == "build"


def test_rows_carry_no_machine_paths(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "profiles.yml").write_text((REPO / "profiles.yml").read_text())  # the DuckDB settings column
    scratch = Path(tempfile.gettempdir()) / "leadscore-bench-abc123"
    detail = (
        f"appended events 5 into {project}/data/bench/leads-10-seed-42/w.duckdb.building; "
        f"written to {scratch}/data"
    )
    rows = run_rows(project, "pipeline", 10, [Measurement("load, 10 leads", 1.25, 100.4, detail)])
    assert set(rows[0]) == set(RUN_COLUMNS)
    assert rows[0]["detail"] == (
        "appended events 5 into data/bench/leads-10-seed-42/w.duckdb.building; written to <temporary folder>/data"
    )
    assert (rows[0]["seconds"], rows[0]["peak_rss_mib"], rows[0]["step_key"]) == ("1.2", "100", "load")
    assert rows[0]["command"] == "leadscore bench --what pipeline --leads 10"
    assert (
        rows[0]["duckdb_settings"].startswith("memory_limit ") and rows[0]["commit"] == ""
    )  # not a git clone
    assert relative_paths(str(project / "x"), project) == "x"


def _row(run_at: str, leads: str, key: str, seconds: str, machine: str = "2 cores, 1 GiB, Linux") -> dict:
    return {
        **dict.fromkeys(RUN_COLUMNS, ""),
        "run_at": run_at,
        "machine": machine,
        "what": "scoring",
        "leads": leads,
        "step_key": key,
        "step": f"({key}) step, {int(leads):,} leads",
        "seconds": seconds,
        "peak_rss_mib": "2048",
    }


def test_the_summary_shows_the_latest_run_per_size_and_machine(tmp_path: Path):
    (tmp_path / "BENCHMARKS.md").write_text(
        f"# Benchmarks\n\nhand-written intro\n\n{SUMMARY_START}\nstale table\n{SUMMARY_END}\n\n## Findings\n\nkept\n"
    )
    append_runs(
        tmp_path,
        [_row("2026-01-01T10:00Z", "1000", "a", "100.0"), _row("2026-01-01T10:00Z", "1000", "c", "10.0")],
    )
    append_runs(
        tmp_path,
        [_row("2026-02-01T10:00Z", "1000", "a", "80.0"), _row("2026-02-01T10:00Z", "1000", "b", "20.0")],
    )
    append_runs(tmp_path, [_row("2026-01-15T10:00Z", "1000", "a", "50.0", machine="8 cores, 32 GiB, Linux")])
    append_runs(tmp_path, [_row("2026-01-20T10:00Z", "5000", "a", "300.0")])
    lines = (tmp_path / RUNS_FILE).read_text().splitlines()
    assert lines[0] == ",".join(RUN_COLUMNS) and len(lines) == 7  # one header, one row per step
    assert len(read_runs(tmp_path)) == 6

    text = update_summary(tmp_path).read_text()
    assert text.startswith("# Benchmarks\n\nhand-written intro\n\n") and text.endswith(
        "## Findings\n\nkept\n"
    )
    assert "stale table" not in text
    table = text.split(SUMMARY_START)[1].split(SUMMARY_END)[0]
    rows = [line for line in table.splitlines() if line.startswith("| scoring")]
    # 1,000 leads on the 2-core machine: only the February run (a, b); the January run is superseded.
    two_cores = [r for r in rows if "| 1,000 | 2 cores" in r]
    assert [r.split(" | ")[4:7] for r in two_cores] == [
        ["(a) step", "80.0", "1.000"],
        ["(b) step", "20.0", "0.250"],
    ]
    assert len([r for r in rows if "8 cores" in r]) == 1 and len([r for r in rows if "| 5,000 |" in r]) == 1
    # Regenerating is idempotent.
    assert update_summary(tmp_path).read_text() == text


def test_the_committed_run_log_is_complete_and_has_no_machine_paths():
    with (REPO / RUNS_FILE).open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == RUN_COLUMNS
        rows = list(reader)
    assert rows
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", row["run_at"]), row
        assert row["what"] in ("scoring", "generator", "pipeline") and int(row["leads"]) > 0
        # nan where a step failed (pandas out of memory), or the peak alone of a failed step recorded by hand
        seconds, peak = float(row["seconds"]), float(row["peak_rss_mib"])
        assert (seconds > 0) == (peak > 0) or seconds != seconds or row["step"].endswith("(failed)"), row
        assert not ABSOLUTE_PATH.search(" ".join(row.values())), row
    # BENCHMARKS.md's table is the one the log gives (regenerated by `leadscore bench`, never edited by hand).
    summary = (REPO / "BENCHMARKS.md").read_text()
    assert f"{SUMMARY_START}\n{summary_table(rows)}\n{SUMMARY_END}" in summary


FAILING_STEP = """
import sys
print("build: dbt build as of 2026-10-31, lead tables rebuilt")
print("build failed: dbt build failed: 1 node(s) failed")
print("- int_lead_event_types_decayed (error): Out of Memory Error")
print("")
print("not published: the previous version is still served")
sys.exit(1)
"""


def test_a_failed_step_is_measured_and_says_what_failed():
    """A step that fails (a 10 M-lead build out of memory) is still a figure: its time, its memory and the
    lines saying what failed, so the pipeline bench records it with the steps before it."""
    try:
        measure_subprocess("build (every model and test), 5 leads", [sys.executable, "-c", FAILING_STEP])
    except StepFailed as failure:
        measurement = failure.measurement
    else:
        raise AssertionError("a step exiting 1 was measured as a success")
    assert measurement.label == "build (every model and test), 5 leads (failed)"
    assert step_key(measurement.label) == "build"
    assert measurement.seconds > 0 and measurement.peak_rss_mib > 0
    assert measurement.detail == (
        "failed: build failed: dbt build failed: 1 node(s) failed "
        "- int_lead_event_types_decayed (error): Out of Memory Error"
    )
