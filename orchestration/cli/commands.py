"""`leadscore`: the command line. Every verb calls the same functions the orchestrator does."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orchestration.cli.analysis import ANALYSIS_COMMANDS
from orchestration.cli.options import parse_date
from orchestration.progress import set_quiet
from orchestration.settings import Settings
from orchestration.warehouse import LEAD_SCORES, first_line

if TYPE_CHECKING:
    from orchestration.ingest.engines import Target


def _engine_target(settings: Settings, target: str | None) -> Target | None:
    """The PostgreSQL or Spark target named, or None for DuckDB (the default path); exits on a bad name."""
    if target is None:
        return None
    from orchestration.ingest.engines import EngineError, resolve_target

    try:
        resolved = resolve_target(settings, target)
    except EngineError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    return None if resolved.is_duckdb else resolved


_TARGET_OPTION = click.option(
    "--target",
    envvar="LEADSCORE_TARGET",
    default=None,
    help="dbt target of profiles.yml: dev (DuckDB, the default), postgres or spark [env: LEADSCORE_TARGET].",
)


class _Leadscore(click.Group):
    """The command group; a warehouse file held by another process ends any command with one plain line
    naming that process, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from orchestration.build.publishing import WarehouseInUseError, lock_conflict

            if isinstance(exc, WarehouseInUseError):
                message = str(exc)
            elif (holder := lock_conflict(exc)) is not None:
                message = f"the warehouse is in use by another process: {holder} ({first_line(exc)})"
            else:
                raise
            click.echo(f"{ctx.invoked_subcommand or 'leadscore'} failed: {message}", err=True)
            sys.exit(1)


@click.group(cls=_Leadscore, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress lines on standard error (for schedulers and CI); results and errors still print. "
    "[env: LEADSCORE_QUIET=1]",
)
def main(quiet: bool) -> None:
    """Open lead scoring on your warehouse: load raw leads, events and orders; score; rank.

    Long commands (demo-data, load, build, bench, calibrate) print what they are doing to standard error."""
    if quiet:
        set_quiet()  # in the environment, so that dbt and the benchmark's steps are quiet too


@main.command("demo-data")
@click.option(
    "--leads",
    "lead_count",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="How many leads to generate.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed: same seed, same data.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/demo"),
    show_default=True,
    help="Folder to write leads, events and orders files into.",
)
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option(
    "--end-date",
    callback=parse_date,
    default=None,
    help="Last day of generated activity, YYYY-MM-DD (default: yesterday, UTC: nothing later than the load).",
)
@click.option(
    "--bad-rows",
    type=click.FloatRange(0, 0.5),
    default=0.0,
    show_default=True,
    help="Fraction of contract-breaking rows to inject (to see the rejects at work).",
)
@click.option(
    "--next-day-of",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Instead: write only events.<fmt>, one more day of events after the demo data in this folder "
    "(its last day replayed a day later with new ids), to add with `leadscore load --append`.",
)
def demo_data_command(
    lead_count: int,
    seed: int,
    out_dir: Path,
    fmt: str,
    end_date: date | None,
    bad_rows: float,
    next_day_of: Path | None,
) -> None:
    """Write realistic demo raw data (leads, events, orders) into a folder."""
    from orchestration.ingest.demo_data import generate_demo_data, generate_next_day_events

    if next_day_of is not None:
        day, count = generate_next_day_events(next_day_of, out_dir)
        click.echo(f"events {count:,} of {day.isoformat()} written to {out_dir}")
        return

    end_date = end_date or datetime.now(UTC).date() - timedelta(days=1)
    counts = generate_demo_data(
        out_dir, leads=lead_count, seed=seed, fmt=fmt, end_date=end_date, bad_row_fraction=bad_rows
    )
    click.echo(", ".join(f"{table} {count:,}" for table, count in counts.items()) + f" written to {out_dir}")


@main.command("load")
@click.argument("source_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--append",
    is_flag=True,
    help="Add the rows of the files present (any of leads, events, orders) to the raw layer instead of "
    "replacing it: new data between builds, which the next build validates and scores incrementally.",
)
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Accept a file with no rows, and let the next build publish raw tables much smaller than the "
    "published ones (LEADSCORE_MAX_SHRINK): a deliberate purge or reset. Without it both are refused.",
)
@_TARGET_OPTION
def load_command(source_dir: Path, append: bool, allow_shrink: bool, target: str | None) -> None:
    """Load SOURCE_DIR's leads, events and orders (.csv or .parquet) as the raw layer, all or nothing.

    The raw layer goes into the pipeline database (never served); `leadscore build` scores and publishes.
    With --target postgres or spark, the files are checked the same way and the raw layer is copied there."""
    from orchestration.build.publishing import demo_marker, prepare_pipeline, writer_lock
    from orchestration.ingest.loader import RawLoadError, load_raw

    settings = Settings.from_env()
    engine_target = _engine_target(settings, target)
    if engine_target is not None and append:
        click.echo(
            "load failed, nothing loaded: --append loads into the DuckDB warehouse only; "
            f"load target {target} with a full folder",
            err=True,
        )
        sys.exit(2)
    if engine_target is not None:
        from orchestration.ingest.engines import EngineError, describe, load_raw_into

        try:
            counts = load_raw_into(settings, source_dir, engine_target, allow_shrink=allow_shrink)
        except (RawLoadError, EngineError) as exc:
            click.echo(f"load failed, nothing loaded: {exc}", err=True)
            sys.exit(1)
        click.echo(
            "loaded "
            + ", ".join(f"{table} {count:,}" for table, count in counts.items())
            + f" into schema raw of target {engine_target.name} ({describe(engine_target)})"
        )
        return
    try:
        with writer_lock(settings):
            working = prepare_pipeline(settings)
            counts = load_raw(source_dir, working, append=append, allow_shrink=allow_shrink)
            demo_marker(settings).unlink(missing_ok=True)  # the raw layer is the user's now
    except RawLoadError as exc:
        click.echo(f"load failed, nothing loaded: {exc}", err=True)
        sys.exit(1)
    click.echo(
        ("appended " if append else "loaded ")
        + ", ".join(f"{table} {count:,}" for table, count in counts.items())
        + f" into {working} (the pipeline database; `leadscore build` publishes the scores to "
        f"{settings.warehouse_path})"
    )


@main.command("build")
@click.option(
    "--as-of",
    callback=parse_date,
    default=None,
    help="Score as of this date, YYYY-MM-DD (default: today, UTC). Later events are ignored.",
)
@click.option(
    "--accept-drift",
    is_flag=True,
    help="Publish even if the mean score or the MQL share moved more than the drift bounds "
    "(LEADSCORE_DRIFT_MEAN_SCORE, LEADSCORE_DRIFT_MQL_SHARE) since the last published build.",
)
@click.option(
    "--accept-rejects",
    is_flag=True,
    help="Publish even if a point-table edit leaves values of the data unlisted (their rows rejected) or the "
    "share of rejected rows rose more than LEADSCORE_MAX_REJECTED_SHARE_RISE since the last published build.",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild the incremental models (validated events, engagement and negative state) from all the raw "
    "data instead of refreshing them with what is new. The score history is never rebuilt.",
)
@_TARGET_OPTION
def build_command(
    as_of: date | None, accept_drift: bool, accept_rejects: bool, full_refresh: bool, target: str | None
) -> None:
    """Check the point tables, build and test every model, and print a summary."""
    from orchestration.build.pipeline import BuildError, build
    from orchestration.build.seed_check import SeedError

    settings = Settings.from_env()
    engine_target = _engine_target(settings, target)
    try:
        if engine_target is not None:
            from orchestration.ingest.engines import EngineError, build_on

            try:
                summary = build_on(settings, engine_target, as_of=as_of, accept_drift=accept_drift)
            except EngineError as exc:
                raise BuildError(str(exc)) from exc
        else:
            summary = build(
                settings,
                as_of=as_of,
                accept_drift=accept_drift,
                target=target,
                full_refresh=full_refresh,
                accept_rejects=accept_rejects,
            )
    except (BuildError, SeedError) as exc:
        click.echo(f"build failed: {exc}", err=True)
        sys.exit(1)
    click.echo(summary.render())


class _LeadCount(click.ParamType):
    """A positive whole number of leads; anything else is refused saying so (`top -5` included, which
    click would otherwise read as an unknown option)."""

    name = "N"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(str(value))
        except ValueError:
            number = 0
        if number < 1:
            self.fail(f"N must be a positive whole number of leads, as in `leadscore top 10` (got {value!r})")
        return number


# ignore_unknown_options: `top -5` reaches _LeadCount, which explains, instead of "no such option: -5".
@main.command("top", context_settings={"ignore_unknown_options": True})
@click.argument("n", type=_LeadCount())
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@_TARGET_OPTION
def top_command(n: int, fmt: str, target: str | None) -> None:
    """Print the N best-ranked leads of the lead-score mart."""
    from orchestration.serve.top_leads import format_rows, top_leads

    settings = Settings.from_env()
    engine_target = _engine_target(settings, target)
    if engine_target is not None:
        from orchestration.ingest.engines import EngineError, describe, top_leads_on

        try:
            rows = top_leads_on(engine_target, n)
        except EngineError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        click.echo(format_rows(rows, fmt))
        if fmt == "table":
            where = f"target {engine_target.name} ({describe(engine_target)})"
            click.echo(f"\nmart: {LEAD_SCORES} on {where}")
        return
    try:
        rows = top_leads(settings.warehouse_path, n)
    except FileNotFoundError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(format_rows(rows, fmt))
    if fmt == "table":
        click.echo(f"\nmart: {LEAD_SCORES} in {settings.warehouse_path}")


@main.command("docs")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write the site into (default: target/docs in the project folder).",
)
def docs_command(out_dir: Path | None) -> None:
    """Generate the dbt documentation site from the pipeline database (never the served file).

    Writes index.html (serve the folder, e.g. `python -m http.server`), static_index.html (opens from the
    file system), catalog.json and manifest.json; docs/serving.md."""
    from orchestration.serve.dbt_docs import DocsError, generate_docs

    try:
        written = generate_docs(Settings.from_env(), out_dir)
    except DocsError as exc:
        click.echo(f"docs failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"documentation written to {written} (open {written / 'static_index.html'})")


@main.command("export")
@click.option(
    "--since-last/--full",
    "since_last",
    default=True,
    show_default=True,
    help="--since-last: the leads whose score, tier, grade, MQL flag or suggested stage changed since the "
    "last export; --full: every scored lead.",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (whole or not at all); default: standard output.",
)
def export_command(since_last: bool, fmt: str, out: Path | None) -> None:
    """Write the CRM fields of the leads that changed since the last export (marts.crm_score_changes).

    Fields: lead id, email (only when the mart exposes personal data), score, tier, grade cell, MQL flag,
    suggested lifecycle stage, top reasons, as-of date. The watermark moves once the rows are written."""
    from orchestration.serve.crm_export import ExportError, export_changes, write_file

    def deliver(text: str) -> str:
        if out is None:
            click.echo(text, nl=False)
            return "stdout"
        write_file(out, text)
        return str(out.resolve())

    try:
        record = export_changes(Settings.from_env(), full=not since_last, fmt=fmt, deliver=deliver)
    except (ExportError, OSError) as exc:
        click.echo(f"export failed, watermark unchanged: {exc}", err=True)
        sys.exit(1)
    changes = "every lead" if not since_last else f"changes after batch {record.after_batch}"
    click.echo(
        f"exported {record.rows:,} leads ({changes}) to {record.destination}; "
        f"watermark: change batch {record.through_batch}",
        err=True,
    )


@main.command("bench")
@click.option(
    "--what",
    type=click.Choice(["scoring", "generator", "pipeline"]),
    default="scoring",
    show_default=True,
    help="scoring = full build vs a hand-written floor query vs pandas on cached data; "
    "generator = demo-data generation; pipeline = demo-data, load and build, step by step.",
)
@click.option("--leads", "lead_count", type=click.IntRange(min=1), default=1_000_000, show_default=True)
def bench_command(what: str, lead_count: int) -> None:
    """Measure wall time and peak memory; print the figures, append them to benchmarks/runs.csv and
    regenerate BENCHMARKS.md's table of latest runs."""
    from orchestration.bench.benchmarks import (
        append_runs,
        bench_generator,
        bench_pipeline,
        bench_scoring,
        render,
        run_rows,
        update_summary,
    )

    settings = Settings.from_env()
    notes: list[str] = []
    if what == "scoring":
        measurements, notes = bench_scoring(settings.project_dir, lead_count)
        title = f"Scoring, {lead_count:,} leads"
    elif what == "generator":
        measurements = bench_generator(lead_count)
        title = f"Demo-data generation, {lead_count:,} leads"
    else:
        measurements = bench_pipeline(lead_count)
        title = f"Pipeline (generate, load, build), {lead_count:,} leads"
    click.echo(render(title, measurements, notes))
    runs = append_runs(
        settings.project_dir, run_rows(settings.project_dir, what, lead_count, measurements, notes)
    )
    click.echo(f"appended to {runs}; latest runs in {update_summary(settings.project_dir)}")
    # A failed pipeline step ends its run (bench_pipeline); pandas failing in the scoring run is a figure.
    if what == "pipeline" and measurements[-1].label.endswith("(failed)"):
        raise click.ClickException(
            f"{measurements[-1].label}: recorded in {runs}; the steps after it were not run"
        )


# backtest, impact, calibrate, report: measuring the scoring (orchestration/cli/analysis.py).
for _command in ANALYSIS_COMMANDS:
    main.add_command(_command)
