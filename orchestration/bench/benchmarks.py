"""Benchmarks: time and peak memory of a command. Never part of the test suite.

Every measured step is appended as a row of benchmarks/runs.csv (the run log, machine-readable, paths relative
to the project); BENCHMARKS.md's table of the latest run per kind, size and machine is regenerated from it."""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

from orchestration.build.publishing import pipeline_path
from orchestration.ingest.demo_data import sql_literal
from orchestration.progress import report
from orchestration.settings import Settings
from orchestration.warehouse import connect_scratch


@dataclass
class Measurement:
    """Wall time and peak resident memory of one measured step."""

    label: str
    seconds: float
    peak_rss_mib: float
    detail: str = ""


class StepFailed(RuntimeError):
    """A measured step exited non-zero: its measurement until then (label marked failed, detail the error)."""

    def __init__(self, label: str, seconds: float, peak_rss_mib: float, output: str) -> None:
        super().__init__(f"{label} failed:\n{output}")
        self.measurement = Measurement(
            f"{label} (failed)", seconds, peak_rss_mib, "failed: " + failure_summary(output)
        )


def failure_summary(output: str) -> str:
    """The lines of a failed step's output that say what failed: from its first line saying it failed, the
    lines up to the next blank one (at most 400 characters); else its last line."""
    lines = [line.strip() for line in output.splitlines()]
    start = next((i for i, line in enumerate(lines) if "failed" in line.lower()), None)
    if start is None:
        return next((line for line in reversed(lines) if line), "no output")[:400]
    said = []
    for line in lines[start:]:
        if not line:
            break
        said.append(line)
    return " ".join(said)[:400]


def measure_subprocess(label: str, command: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run command in a fresh process; its peak RSS is read from getrusage of the waited-for child. Its
    standard error (the step's own progress) is shown as it comes and kept for the failure message."""
    report(f"bench: {label} ...")
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []

    def forward_stderr() -> None:
        assert process.stderr is not None  # noqa: S101 - stderr=PIPE above
        for line in process.stderr:
            err.append(line)
            report("  " + line.rstrip("\n"))

    readers = [
        threading.Thread(target=lambda: out.extend(process.stdout or []), daemon=True),
        threading.Thread(target=forward_stderr, daemon=True),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # waited for above: Popen must not wait again
    output = "".join(out)
    peak_rss_mib = usage.ru_maxrss / 1024
    if process.returncode != 0:
        raise StepFailed(label, seconds, peak_rss_mib, output + "".join(err))
    report(f"bench: {label}: {seconds:.1f} s, peak RSS {peak_rss_mib:,.0f} MiB")
    return Measurement(label=label, seconds=seconds, peak_rss_mib=peak_rss_mib, detail=output.strip())


def machine_description() -> str:
    """Cores, memory and the versions that matter."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    versions = ", ".join(f"{name} {version(name)}" for name in ("duckdb", "dbt-core", "dbt-duckdb"))
    return (
        f"{os.cpu_count()} cores, {pages / 2**30:.1f} GiB, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, {versions}"
    )


BENCH_AS_OF = "2026-10-31"


def demo_data_args(leads: int, seed: int, out: Path) -> list[str]:
    """`leadscore demo-data` arguments for benchmark data ending on BENCH_AS_OF."""
    return [
        "demo-data",
        "--leads",
        str(leads),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--end-date",
        BENCH_AS_OF,
    ]


def bench_generator(leads: int, seed: int = 42) -> list[Measurement]:
    """Generate demo data of the given size (Parquet) in a fresh process and measure it."""
    leadscore = str(Path(sys.executable).with_name("leadscore"))
    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as out:
        measurement = measure_subprocess(
            f"demo-data --leads {leads:,}",
            [leadscore, *demo_data_args(leads, seed, Path(out))],
        )
        size = sum(f.stat().st_size for f in Path(out).iterdir())
        measurement.detail += f" ({size / 2**20:,.0f} MiB of Parquet)"
    return [measurement]


def bench_pipeline(leads: int, seed: int = 42) -> list[Measurement]:
    """Generate, load and build at the given size, each step in a fresh process, in a temporary folder."""
    leadscore = str(Path(sys.executable).with_name("leadscore"))
    with tempfile.TemporaryDirectory(prefix="leadscore-bench-") as work:
        data, warehouse = Path(work) / "data", Path(work) / "warehouse.duckdb"
        env = {
            **os.environ,
            "LEADSCORE_DUCKDB_PATH": str(warehouse),
            "DBT_TARGET_PATH": str(Path(work) / "target"),
        }
        steps = [
            ("demo-data", demo_data_args(leads, seed, data)),
            ("load", ["load", str(data)]),
            ("build (every model and test)", ["build", "--as-of", BENCH_AS_OF]),
        ]
        measurements = []
        for label, args in steps:
            try:
                measurement = measure_subprocess(f"{label}, {leads:,} leads", [leadscore, *args], env=env)
            except StepFailed as failure:
                # Recorded with the steps before it (a failed 10 M build is a figure too); the rest not run.
                measurements.append(failure.measurement)
                break
            measurement.detail = measurement.detail.splitlines()[0] if measurement.detail else ""
            measurements.append(measurement)
        pipeline = pipeline_path(Settings(project_dir=Path(work), warehouse_path=warehouse))
        if warehouse.exists() and pipeline.exists():
            # What a publish writes (the served file) against what the pipeline keeps (never copied).
            measurements[-1].detail += (
                f"; served file {warehouse.stat().st_size / 2**20:,.0f} MiB, "
                f"pipeline database {pipeline.stat().st_size / 2**20:,.0f} MiB"
            )
    return measurements


def cached_bench_warehouse(project_dir: Path, leads: int, seed: int = 42) -> Path:
    """Generated and loaded data of the given size, cached under data/bench/ (made on first use)."""
    leadscore = str(Path(sys.executable).with_name("leadscore"))
    folder = project_dir / "data" / "bench" / f"leads-{leads}-seed-{seed}"
    warehouse = folder / "loaded.duckdb"
    if not warehouse.exists():
        data = folder / "files"
        subprocess.run(
            [leadscore, *demo_data_args(leads, seed, data)],
            check=True,
        )
        partial = folder / "loading.duckdb"
        partial.unlink(missing_ok=True)
        subprocess.run(
            [leadscore, "load", str(data)],
            env={**os.environ, "LEADSCORE_DUCKDB_PATH": str(partial)},
            check=True,
        )
        # `leadscore load` writes the pipeline database beside the served path it is given.
        pipeline_path(Settings(project_dir=project_dir, warehouse_path=partial)).replace(warehouse)
    return warehouse


def cached_next_day(project_dir: Path, leads: int, seed: int = 42) -> Path:
    """One more day of events after the cached benchmark data (made on first use): the folder to append."""
    leadscore = str(Path(sys.executable).with_name("leadscore"))
    folder = project_dir / "data" / "bench" / f"leads-{leads}-seed-{seed}"
    next_day = folder / "next-day"
    if not (next_day / "events.parquet").exists():
        partial = folder / "next-day-partial"
        shutil.rmtree(partial, ignore_errors=True)
        command = [leadscore, "demo-data", "--next-day-of", str(folder / "files"), "--out", str(partial)]
        subprocess.run(command, check=True)
        partial.replace(next_day)
    return next_day


# A refresh every few minutes: the events of five minutes of the busiest hour of the generated day (10:00 UTC;
# the event count is in the step's name in benchmarks/runs.csv), arriving after the daily roll, scored at the
# same as-of date.
INTRADAY_BATCH_START_HOUR = 10
INTRADAY_BATCH_MINUTES = 5


def write_event_window(events: Path, out_dir: Path, start: datetime, minutes: int) -> int:
    """Write out_dir/events.parquet: the rows of the events parquet file whose occurred_at falls in
    [start, start + minutes) (start in UTC), as they are (text columns untouched); return how many."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "events.parquet"
    window = [start.replace(tzinfo=UTC), (start + timedelta(minutes=minutes)).replace(tzinfo=UTC)]
    with connect_scratch() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(
            f"""
            copy (
                select * from read_parquet({sql_literal(events.as_posix())})
                where try_cast(occurred_at as timestamptz) >= ? and try_cast(occurred_at as timestamptz) < ?
            ) to {sql_literal(target.as_posix())} (format parquet)
            """,
            window,
        )
        written = con.execute(f"select count(*) from read_parquet({sql_literal(target.as_posix())})")
        return int(written.fetchone()[0])


def cached_intraday_batch(project_dir: Path, leads: int, seed: int = 42) -> tuple[Path, int, datetime]:
    """Five minutes of events of the day after the cached next day (made on first use): the folder to
    append, its event count and the window's start."""
    leadscore = str(Path(sys.executable).with_name("leadscore"))
    folder = project_dir / "data" / "bench" / f"leads-{leads}-seed-{seed}"
    next_day = cached_next_day(project_dir, leads, seed)
    batch = folder / "intraday-batch"
    day = date.fromisoformat(BENCH_AS_OF) + timedelta(days=2)
    start = datetime(day.year, day.month, day.day, INTRADAY_BATCH_START_HOUR)
    if not (batch / "events.parquet").exists():
        partial, whole_day = folder / "intraday-batch-partial", folder / "day-after-next"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(whole_day, ignore_errors=True)
        subprocess.run(
            [leadscore, "demo-data", "--next-day-of", str(next_day), "--out", str(whole_day)], check=True
        )
        write_event_window(whole_day / "events.parquet", partial, start, INTRADAY_BATCH_MINUTES)
        shutil.rmtree(whole_day)
        partial.replace(batch)
    with connect_scratch() as con:
        events = sql_literal((batch / "events.parquet").as_posix())
        count = con.execute(f"select count(*) from read_parquet({events})")
        return batch, int(count.fetchone()[0]), start


def _summary_lines(output: str, *prefixes: str) -> str:
    """The first line of a build summary plus its lines starting with the given prefixes."""
    lines = output.splitlines()
    kept = lines[:1] + [line for line in lines[1:] if line.startswith(prefixes)]
    return "; ".join(kept)


def dbt_profile(target: Path, slowest: int = 4) -> str:
    """Where a build's dbt time went (its run_results.json): nodes run, dbt's elapsed time, the slowest."""
    path = target / "run_results.json"
    if not path.exists():
        return ""
    results = json.loads(path.read_text())
    nodes = sorted(results["results"], key=lambda node: node["execution_time"], reverse=True)
    top = ", ".join(
        f"{node['unique_id'].split('.')[2]} {node['execution_time']:.1f} s" for node in nodes[:slowest]
    )
    return f"dbt: {len(nodes)} nodes in {results['elapsed_time']:.1f} s, slowest {top}"


def bench_scoring(project_dir: Path, leads: int) -> tuple[list[Measurement], list[str]]:
    """(a) full build, (b) incremental refresh after one more day of events, (c) the hand-written floor
    query, (d) pandas, on the same cached raw data, each in a fresh process.

    The scoring day is the day after the generated data's last one (as a build run today scores the data up
    to yesterday): (a) builds as of it, then that day's events arrive (the generator's next day) and (b)
    refreshes at the same as-of date, as the refreshes every few minutes during a day do. (b2) measures the
    daily roll: the next day's build, when every lead's decay moves, with no new data."""
    leadscore = str(Path(sys.executable).with_name("leadscore"))
    raw = cached_bench_warehouse(project_dir, leads)
    next_day = cached_next_day(project_dir, leads)
    batch, batch_events, batch_start = cached_intraday_batch(project_dir, leads)
    as_of = date.fromisoformat(BENCH_AS_OF) + timedelta(days=1)
    roll_as_of = as_of + timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="leadscore-bench-", dir=raw.parent) as work:
        warehouse = Path(work) / "warehouse.duckdb"
        # As `leadscore load` leaves it: the raw layer in the pipeline database, nothing served yet.
        pipeline = pipeline_path(Settings(project_dir=project_dir, warehouse_path=warehouse))
        shutil.copyfile(raw, pipeline)
        env = {
            **os.environ,
            "LEADSCORE_DUCKDB_PATH": str(warehouse),
            "DBT_TARGET_PATH": str(Path(work) / "target"),
        }

        def build(label: str, day: date) -> Measurement:
            measured = measure_subprocess(label, [leadscore, "build", "--as-of", day.isoformat()], env=env)
            measured.detail = _summary_lines(
                measured.detail, "incremental models", "skipped", "lead tables", "served file"
            )
            measured.detail += "; " + dbt_profile(Path(work) / "target")
            return measured

        full = build(f"(a) full build, {leads:,} leads", as_of)
        append = measure_subprocess(
            "load --append of the day's events", [leadscore, "load", "--append", str(next_day)], env=env
        )
        refresh = build(f"(b) incremental refresh, same as-of date {as_of}, {leads:,} leads", as_of)
        reference = [sys.executable, "-m", "orchestration.bench.reference_scoring"]
        # The floor and pandas read the raw layer, which only the pipeline database holds.
        args = [str(pipeline), as_of.isoformat(), str(project_dir / "seeds")]
        floor = measure_subprocess(
            f"(c) floor: one hand-written DuckDB query, {leads:,} leads", [*reference, "floor", *args]
        )
        try:
            pandas = measure_subprocess(f"(d) pandas, {leads:,} leads", [*reference, "pandas", *args])
        except RuntimeError as exc:
            pandas = Measurement(
                f"(d) pandas, {leads:,} leads",
                float("nan"),
                float("nan"),
                "failed: " + str(exc).strip().splitlines()[-1][:200],
            )
        roll = build(f"(b2) next day's build (as of {roll_as_of}, no new data), {leads:,} leads", roll_as_of)
        window = f"{batch_start:%H:%M}-{batch_start + timedelta(minutes=INTRADAY_BATCH_MINUTES):%H:%M} UTC"
        append_batch = measure_subprocess(
            f"load --append of {batch_events:,} events of {roll_as_of} {window}",
            [leadscore, "load", "--append", str(batch)],
            env=env,
        )
        intraday = build(
            f"(b5) refresh after five minutes of events ({batch_events:,}, {window}), same as-of date "
            f"{roll_as_of}, {leads:,} leads",
            roll_as_of,
        )
    notes = [
        f"a/c (build / floor) = {full.seconds / floor.seconds:.2f}",
        f"b/a (incremental refresh / full build) = {refresh.seconds / full.seconds:.3f}",
        f"b2/a (next day's build / full build) = {roll.seconds / full.seconds:.3f}",
        f"b5/a (refresh after five minutes of events / full build) = {intraday.seconds / full.seconds:.3f}",
        f"d/a (pandas / build) = {pandas.seconds / full.seconds:.2f}",
        f"peak RSS of the full build = {full.peak_rss_mib / 1024:.2f} GiB "
        f"(DuckDB memory_limit and threads from profiles.yml: {duckdb_profile_settings(project_dir)})",
    ]
    return [full, append, refresh, floor, pandas, roll, append_batch, intraday], notes


def duckdb_profile_settings(project_dir: Path) -> str:
    """DuckDB's memory_limit and threads as profiles.yml sets them for the dev target (env var or default)."""
    # The dev target's DuckDB `settings:` block (dbt's own `threads:` above it is another setting).
    text = (project_dir / "profiles.yml").read_text()
    text = text[text.index("settings:") :]
    values = []
    for setting in ("memory_limit", "threads"):
        found = re.search(setting + r":\s*\"\{\{\s*env_var\('(\w+)',\s*'([^']*)'\)", text)
        values.append(f"{setting} {os.environ.get(found.group(1), found.group(2)) if found else 'unset'}")
    return ", ".join(values)


RUNS_FILE = Path("benchmarks") / "runs.csv"
RUN_COLUMNS = (
    "run_at",  # UTC, minutes: one value per run (every step of a run carries it)
    "machine",  # cores, memory, system
    "versions",  # Python, DuckDB, dbt-core, dbt-duckdb
    "duckdb_settings",  # the dev target's memory_limit and threads (profiles.yml)
    "commit",  # the project's git commit, when known
    "command",
    "what",  # scoring, generator or pipeline
    "leads",
    "step_key",  # a, b, b2, b5, c, d (scoring); append-day, append-window; demo-data, load, build
    "step",
    "seconds",  # wall time
    "peak_rss_mib",  # peak resident memory of the step's process
    "detail",  # the step's first output line(s)
    "note",
)

# The part of BENCHMARKS.md that `leadscore bench` rewrites (the rest is written by hand).
SUMMARY_START = "<!-- latest runs: written by `leadscore bench` from benchmarks/runs.csv -->"
SUMMARY_END = "<!-- end of latest runs -->"


def step_key(label: str) -> str:
    """A short stable name of a measured step (its letter for the scoring comparison)."""
    lettered = re.match(r"\((\w+)\)", label)
    if lettered:
        return lettered.group(1)
    if label.startswith("load --append"):
        return "append-day" if "the day's events" in label else "append-window"
    return re.split(r"[ ,(]", label, maxsplit=1)[0]


def relative_paths(text: str, project_dir: Path) -> str:
    """text with the project's absolute path removed (paths relative to the project) and temporary folders
    named as such: the run log holds no machine paths."""
    text = text.replace(str(project_dir.resolve()) + "/", "").replace(str(project_dir) + "/", "")
    temp = re.escape(tempfile.gettempdir().rstrip("/"))
    return re.sub(temp + r"/[^/\s]+", "<temporary folder>", text)


def git_commit(project_dir: Path) -> str:
    """The project's short git commit (with + when the working tree differs), or empty."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=project_dir, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=project_dir, capture_output=True, text=True
        )
    except OSError:
        return ""
    if head.returncode != 0:
        return ""
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def run_rows(
    project_dir: Path, what: str, leads: int, measurements: list[Measurement], notes: list[str] | None = None
) -> list[dict[str, str]]:
    """One runs.csv row per measured step of a run of `leadscore bench`."""
    cores, memory, system = machine_description().split(", ")[:3]
    base = {
        "run_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "machine": f"{cores}, {memory}, {system}",
        "versions": ", ".join(machine_description().split(", ")[3:]),
        "duckdb_settings": duckdb_profile_settings(project_dir),
        "commit": git_commit(project_dir),
        "command": f"leadscore bench --what {what} --leads {leads}",
        "what": what,
        "leads": str(leads),
        "note": "; ".join(notes or []),
    }
    return [
        {
            **base,
            "step_key": step_key(m.label),
            "step": m.label,
            "seconds": f"{m.seconds:.1f}",
            "peak_rss_mib": f"{m.peak_rss_mib:.0f}",
            "detail": relative_paths(m.detail, project_dir),
        }
        for m in measurements
    ]


def append_runs(project_dir: Path, rows: list[dict[str, str]]) -> Path:
    """Append rows to benchmarks/runs.csv (creating it with its header)."""
    path = project_dir / RUNS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RUN_COLUMNS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerows(rows)
    return path


def read_runs(project_dir: Path) -> list[dict[str, str]]:
    path = project_dir / RUNS_FILE
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


STEP_ORDER = ("a", "append-day", "b", "b2", "append-window", "b5", "c", "d", "demo-data", "load", "build")


def summary_table(rows: list[dict[str, str]]) -> str:
    """The latest run of each kind, size and machine as one Markdown table, one line per step; for the
    scoring comparison, each step's time as a share of that run's full build (a)."""
    latest: dict[tuple[str, str, str], str] = {}
    for row in rows:
        key = (row["what"], row["leads"], row["machine"])
        latest[key] = max(latest.get(key, ""), row["run_at"])
    lines = [
        "| run | leads | machine | measured (UTC) | step | seconds | ÷ (a) | peak RSS GiB |",
        "|---|---:|---|---|---|---:|---:|---:|",
    ]
    order = {"scoring": 0, "pipeline": 1, "generator": 2}
    for what, leads, machine in sorted(latest, key=lambda k: (order.get(k[0], 9), int(k[1]), k[2])):
        run_at = latest[(what, leads, machine)]
        steps = [
            r
            for r in rows
            if (r["what"], r["leads"], r["machine"], r["run_at"]) == (what, leads, machine, run_at)
        ]
        steps.sort(key=lambda r: STEP_ORDER.index(r["step_key"]) if r["step_key"] in STEP_ORDER else 99)
        full = next((float(r["seconds"]) for r in steps if r["step_key"] == "a"), float("nan"))
        for r in steps:
            seconds = float(r["seconds"])
            lettered = r["step_key"] in ("a", "b", "b2", "b5", "c", "d")
            share = f"{seconds / full:.3f}" if lettered and seconds == seconds and full == full else ""
            rss = float(r["peak_rss_mib"]) / 1024
            lines.append(
                f"| {what} | {int(leads):,} | {machine} | {run_at.replace('T', ' ')} | {_short_step(r)} | "
                f"{_figure(seconds, '.1f')} | {share} | {_figure(rss, '.2f')} |"
            )
    return "\n".join(lines)


def _short_step(row: dict[str, str]) -> str:
    """The step's label without the size, which the table has in its own column."""
    return re.sub(r",? ?\b[\d,]+ leads( \(failed\))?$", r"\1", row["step"]).strip()


def _figure(value: float, spec: str) -> str:
    return "failed" if value != value else format(value, spec)  # NaN: the step failed (pandas out of memory)


def update_summary(project_dir: Path) -> Path:
    """Rewrite BENCHMARKS.md's table of latest runs from benchmarks/runs.csv (between its markers)."""
    path = project_dir / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{SUMMARY_START}\n{SUMMARY_END}\n"
    if SUMMARY_START not in text or SUMMARY_END not in text:
        text += f"\n{SUMMARY_START}\n{SUMMARY_END}\n"
    head, rest = text.split(SUMMARY_START, 1)
    _, tail = rest.split(SUMMARY_END, 1)
    table = summary_table(read_runs(project_dir))
    path.write_text(f"{head}{SUMMARY_START}\n{table}\n{SUMMARY_END}{tail}")
    return path


def render(title: str, measurements: list[Measurement], notes: list[str] | None = None) -> str:
    """What `leadscore bench` prints: a Markdown table of the run's steps and its notes."""
    lines = [
        f"## {title} ({datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')})",
        "",
        f"Machine: {machine_description()}",
        "",
        "| step | wall seconds | peak RSS MiB | detail |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {m.label} | {m.seconds:.1f} | {m.peak_rss_mib:,.0f} | {m.detail} |" for m in measurements]
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"
