"""`leadscore backtest | impact | calibrate | report`: measuring the scoring (registered by cli.py)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

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


ANALYSIS_COMMANDS: tuple[click.Command, ...] = (backtest_command,)
