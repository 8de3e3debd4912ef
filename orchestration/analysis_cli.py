"""`leadscore backtest | impact | calibrate | report`: measuring the scoring (registered by cli.py)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from orchestration.settings import Settings


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from exc


def _today() -> date:
    return datetime.now(UTC).date()


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@click.command("backtest")
@click.option(
    "--from", "start", callback=_parse_date, required=True, help="First past score date, YYYY-MM-DD."
)
@click.option("--to", "end", callback=_parse_date, required=True, help="Last past score date, YYYY-MM-DD.")
@click.option(
    "--every", type=click.IntRange(min=1), default=30, show_default=True, help="Days between dates."
)
@click.option(
    "--as-of",
    callback=_parse_date,
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
    from orchestration.backtest import run_backtest, score_dates, unmeasurable_dates, window_days
    from orchestration.pipeline import BuildError
    from orchestration.seed_check import SeedError

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
            settings, dates, as_of, window=window, accept_drift=accept_drift, progress=click.echo
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
    callback=_parse_date,
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
    from orchestration.backtest import window_days
    from orchestration.impact import (
        ImpactError,
        ImpactOptions,
        render_json,
        render_markdown,
        run_impact,
        save_last_impact,
    )
    from orchestration.sandbox import SandboxError

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
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("artifacts/calibration"),
    show_default=True,
    help="Folder for the proposed seed CSVs and the report (calibration.md, calibration.json).",
)
@click.option(
    "--penalty",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="L2 penalty of the logistic regression (higher: lifts shrink more towards 0).",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 0.9),
    default=0.3,
    show_default=True,
    help="Share of the leads kept out of the fit to measure the proposal on (0: fit on every lead).",
)
@click.option("--no-evaluate", is_flag=True, help="Do not re-score the backtest with the proposed points.")
def calibrate_command(out_dir: Path, penalty: float, holdout: float, no_evaluate: bool) -> None:
    """Propose point values from the score history and the conversions that followed.

    Reads the backtest of the served scoring version (run `leadscore backtest` first), estimates each fit
    category's, event type's and negative rule's conversion lift (L2-regularised logistic regression), turns
    the lifts into points on the seeds' scales and writes them as seed CSVs into --out, with a report
    comparing current and proposed points and the backtest ROC AUC of each (the proposal is re-scored in a
    throw-away copy of the project and warehouse). Copy the CSVs into seeds/ in a pull request to adopt
    them."""
    from orchestration.calibration import CalibrationError, calibrate
    from orchestration.sandbox import SandboxError

    settings = Settings.from_env()
    try:
        result = calibrate(settings, out_dir, penalty=penalty, holdout=holdout, evaluate=not no_evaluate)
    except (CalibrationError, SandboxError) as exc:
        _fail(f"calibration failed: {exc}")
    click.echo(
        f"calibrated on {result['lead_dates']:,} lead-dates ({result['conversions']:,} conversions) of "
        f"scoring model {result['scoring_version']}"
    )
    auc = result.get("auc")
    if auc:
        for scope, label in (("all", "all lead-dates"), ("held_out", "held-out leads")):
            current, proposed = auc[scope]["current"], auc[scope]["proposed"]
            if current is not None and proposed is not None:
                click.echo(f"ROC AUC on {label}: current {current:.3f}, proposed {proposed:.3f}")
    click.echo(f"proposed point tables and report in {out_dir}: {', '.join(result['files'])}, calibration.md")


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
    from orchestration.impact import last_impact_path
    from orchestration.report import write_report

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
