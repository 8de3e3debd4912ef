"""`leadscore backtest | impact | calibrate | report`: measuring the scoring (registered by commands.py)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from orchestration.cli.options import parse_date
from orchestration.progress import report as show_progress
from orchestration.settings import Settings


def _today() -> date:
    return datetime.now(UTC).date()


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@click.command("backtest")
@click.option(
    "--from", "start", callback=parse_date, required=True, help="First past score date, YYYY-MM-DD."
)
@click.option("--to", "end", callback=parse_date, required=True, help="Last past score date, YYYY-MM-DD.")
@click.option(
    "--every", type=click.IntRange(min=1), default=30, show_default=True, help="Days between dates."
)
@click.option(
    "--as-of",
    callback=parse_date,
    default=None,
    help="Observation date: conversions up to it are known (default: today, UTC). The final build uses it.",
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=None,
    help="Conversion window in days after each score date (default: dbt var backtest_window_days, 60).",
)
@click.option(
    "--accept-drift",
    is_flag=True,
    help="Publish the final build even if the mean score or MQL share moved beyond the drift bounds.",
)
def backtest_command(
    start: date, end: date, every: int, as_of: date | None, window: int | None, accept_drift: bool
) -> None:
    """Score the leads as of past dates and measure conversion in the window after each.

    Scores the leads as of each date from --from to --to every --every days into the score history, then
    builds, tests and publishes as of --as-of, and prints conversion by tier and decile, ROC AUC and capture
    rates (marts backtest_summary, backtest_conversion_rates, backtest_low_score_conversions)."""
    from orchestration.analysis.backtest import run_backtest, score_dates, unmeasurable_dates, window_days
    from orchestration.build.pipeline import BuildError
    from orchestration.build.seed_check import SeedError

    as_of = as_of or _today()
    try:
        dates = score_dates(start, end, every)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    days = window or window_days()
    late = unmeasurable_dates(dates, as_of, days)
    if late:
        click.echo(
            f"note: {len(late)} date(s) from {late[0].isoformat()} end their {days}-day window after "
            f"{as_of.isoformat()}: scored into the history, measured once their window is over",
            err=True,
        )
    settings = Settings.from_env()
    try:
        report = run_backtest(
            settings, dates, as_of, window=window, accept_drift=accept_drift, progress=show_progress
        )
    except (BuildError, SeedError) as exc:
        _fail(f"backtest failed: {exc}")
    if report is None:
        _fail("no score date has a complete conversion window yet: choose earlier dates or a later --as-of")
    click.echo("")
    click.echo(report.render())


@click.command("impact")
@click.option(
    "--base", "base_ref", required=True, help="Git ref whose seeds/ to compare with (e.g. origin/main)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True
)
@click.option(
    "--as-of",
    callback=parse_date,
    default=None,
    help="Score as of this date (default: the served mart's as-of date, else today).",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Score this export folder (as for `leadscore load`) instead of the served warehouse's raw data.",
)
@click.option(
    "--backtest-dates",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Past score dates to backtest each side on (0: no backtest).",
)
@click.option("--every", type=click.IntRange(min=1), default=30, show_default=True, help="Days between them.")
@click.option(
    "--window", type=click.IntRange(min=1), default=None, help="Conversion window in days (default 60)."
)
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True, help="Top movers to list.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write it here.",
)
@click.option(
    "--only-if-seeds-changed",
    is_flag=True,
    help="Do nothing (exit 0) when dbt finds no modified seed against the base (state:modified); for CI.",
)
def impact_command(
    base_ref: str,
    fmt: str,
    as_of: date | None,
    data_dir: Path | None,
    backtest_dates: int,
    every: int,
    window: int | None,
    top: int,
    out_file: Path | None,
    only_if_seeds_changed: bool,
) -> None:
    """What the working tree's point tables change against those of git ref BASE, before publishing.

    Scores the same raw data and as-of date twice, each in a temporary copy of the project and of the
    warehouse (the served warehouse is only read): with BASE's seeds and with the working tree's. Reports the
    leads that change tier, MQL status and grade cell, the rank correlation, the top movers and the rules
    that moved them, and the backtest metrics of both sides. Markdown fits a pull-request comment."""
    from orchestration.analysis.backtest import window_days
    from orchestration.analysis.impact import (
        ImpactError,
        ImpactOptions,
        render_json,
        render_markdown,
        run_impact,
        save_last_impact,
    )
    from orchestration.analysis.sandbox import SandboxError

    settings = Settings.from_env()
    options = ImpactOptions(
        base_ref=base_ref,
        as_of=as_of,
        data_dir=data_dir.resolve() if data_dir else None,
        backtest_dates=backtest_dates,
        backtest_every=every,
        window_days=window or window_days(),
        top=top,
    )
    try:
        result = run_impact(settings, options, only_if_seeds_changed=only_if_seeds_changed)
    except (ImpactError, SandboxError) as exc:
        _fail(f"impact failed: {exc}")
    text = render_json(result) if fmt == "json" else render_markdown(result)
    if "skipped" not in result:
        saved = save_last_impact(settings, result)
        click.echo(f"impact saved to {saved} (for `leadscore report`)", err=True)
    if out_file:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text + "\n")
    click.echo(text)


@click.command("calibrate")
@click.option(
    "--from", "start", callback=parse_date, required=True, help="First past score date, YYYY-MM-DD."
)
@click.option("--to", "end", callback=parse_date, required=True, help="Last past score date, YYYY-MM-DD.")
@click.option(
    "--every", type=click.IntRange(min=1), default=30, show_default=True, help="Days between score dates."
)
@click.option(
    "--window",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="A lead converted when it became a customer within this many days after a score date.",
)
@click.option(
    "--as-of",
    callback=parse_date,
    default=None,
    help="Observation date: conversions known until then (default: --to plus --window).",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0.05, 0.9),
    default=0.3,
    show_default=True,
    help="Share of the leads (by a hash of lead_id) the fit never sees, to measure the proposal on.",
)
@click.option(
    "--holdout-leads",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A file of lead ids, one per line, to hold out instead of --holdout (a split of your own).",
)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Calibrate on an export folder (leads, events, orders) instead of the served raw layer.",
)
@click.option(
    "--seeds",
    "seeds_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Seed CSVs that replace the project's as the current tables (e.g. an example's own tables).",
)
@click.option(
    "--min-support",
    type=click.IntRange(min=5),
    default=30,
    show_default=True,
    help="Training leads a value needs to become a rule of its own (rarer values score as otherwise).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("artifacts/calibration"),
    show_default=True,
    help="Folder for the proposed seed CSVs and the report (calibration.md, calibration.json).",
)
@click.option("--no-evaluate", is_flag=True, help="Do not re-score the backtest with the proposed tables.")
def calibrate_command(
    start: date,
    end: date,
    every: int,
    window: int,
    as_of: date | None,
    holdout: float,
    holdout_leads: Path | None,
    data_dir: Path | None,
    seeds_dir: Path | None,
    min_support: int,
    out_dir: Path,
    no_evaluate: bool,
) -> None:
    """Learn the whole point model from conversions and propose it as complete seed CSVs.

    Scores the leads as of each past date from --from to --to in a throw-away copy of the project and
    warehouse (the served warehouse is only read), learns from every lead property, event type and negative
    rule which ones predict a conversion within --window days (a regularised logistic regression), turns
    that into rules, points, weights, grade bands, tiers and an MQL threshold, re-scores the past dates with
    them and reports the ROC AUC of the current tables, the proposed ones and the regression on leads the fit
    never saw. Copy the CSVs into seeds/ in a pull request to adopt them (calibration.md says how)."""
    from orchestration.analysis.calibration import CalibrateOptions, CalibrationError, calibrate
    from orchestration.analysis.sandbox import SandboxError

    settings = Settings.from_env()
    try:
        held = None
        if holdout_leads is not None:
            held = frozenset(line.strip() for line in holdout_leads.read_text().splitlines() if line.strip())
        options = CalibrateOptions(
            start=start,
            end=end,
            every=every,
            window=window,
            as_of=as_of,
            holdout=holdout,
            holdout_leads=held,
            data_dir=data_dir,
            seeds_dir=seeds_dir,
            min_support=min_support,
            evaluate=not no_evaluate,
        )
        result = calibrate(settings, options, out_dir, progress=show_progress)
    except (CalibrationError, SandboxError, ValueError) as exc:
        _fail(f"calibration failed: {exc}")
    click.echo(
        f"calibrated on {result['lead_dates']:,} lead-dates ({result['conversions']:,} conversions, "
        f"{result['features']} features) of scoring model {result['scoring_version']}"
    )
    evaluation = result.get("evaluation")
    if evaluation:
        for scope, label in (("held_out", "held-out leads"), ("all", "all lead-dates")):
            row = evaluation["auc"][scope]
            click.echo(
                f"ROC AUC on {label}: current {_auc_text(row['current'])}, "
                f"proposed {_auc_text(row['proposed'])}, regression {_auc_text(row['ceiling'])}"
            )
    click.echo(f"proposed point tables and report in {out_dir}: {', '.join(result['files'])}, calibration.md")


def _auc_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@click.command("report")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("artifacts/report.html"),
    show_default=True,
)
@click.option(
    "--impact",
    "impact_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="An impact JSON (default: the last `leadscore impact` run, beside the warehouse).",
)
def report_command(out_file: Path, impact_file: Path | None) -> None:
    """Write a self-contained HTML report: score distribution, conversion by tier and decile, cumulative
    gains, the grade matrix as a heat map, and the last impact run (inline SVG, no network)."""
    from orchestration.analysis.impact import last_impact_path
    from orchestration.analysis.report import write_report

    settings = Settings.from_env()
    try:
        written = write_report(settings.warehouse_path, out_file, impact_file or last_impact_path(settings))
    except FileNotFoundError as exc:
        _fail(str(exc))
    click.echo(f"report written to {written}")


ANALYSIS_COMMANDS: tuple[click.Command, ...] = (
    backtest_command,
    impact_command,
    calibrate_command,
    report_command,
)
