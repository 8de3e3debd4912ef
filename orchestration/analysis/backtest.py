"""Backtests: score leads as of past dates, then measure who converted in the window after each date.

`leadscore backtest --from D1 --to D2 --every N` scores the leads as of each past date into
history.lead_score_history, then builds (tests, audits, publishes) as of the observation date (`--as-of`),
which builds the backtest marts from the history: marts.backtest_summary (base rate, ROC AUC, capture of
the top tier / decile / MQLs), marts.backtest_conversion_rates (by tier, score decile and grade cell) and
marts.backtest_low_score_conversions. Only score dates whose window ends by the observation date count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import duckdb

from orchestration.build.dbt_invocation import run_dbt
from orchestration.settings import Settings
from orchestration.warehouse import connect_read_only, latest_scoring_version, plain_value

WINDOW_ENV = "LEADSCORE_BACKTEST_WINDOW_DAYS"
DEFAULT_WINDOW_DAYS = 60  # the default of var backtest_window_days in dbt_project.yml

SUMMARY_RELATION = "marts.backtest_summary"
RATES_RELATION = "marts.backtest_conversion_rates"
LOW_SCORE_RELATION = "marts.backtest_low_score_conversions"
OBSERVATIONS_RELATION = "intermediate.int_backtest_observations"
HISTORY_MODEL = "lead_score_history"

# The metrics compared between scoring versions (column of backtest_summary, label).
METRICS: tuple[tuple[str, str], ...] = (
    ("roc_auc", "ROC AUC"),
    ("base_rate", "base conversion rate"),
    ("top_tier_capture_rate", "conversions captured by the top tier"),
    ("top_tier_lift", "top-tier lift"),
    ("top_decile_capture_rate", "conversions captured by the top decile"),
    ("top_decile_lift", "top-decile lift"),
    ("mql_capture_rate", "conversions that were MQLs"),
)


def window_days() -> int:
    """The conversion window in days: LEADSCORE_BACKTEST_WINDOW_DAYS, else the dbt var's default."""
    return int(os.environ.get(WINDOW_ENV, DEFAULT_WINDOW_DAYS))


@contextmanager
def window_override(days: int | None) -> Iterator[None]:
    """Set the window for the dbt processes started inside the block (they inherit the environment)."""
    if days is None:
        yield
        return
    previous = os.environ.get(WINDOW_ENV)
    os.environ[WINDOW_ENV] = str(int(days))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(WINDOW_ENV, None)
        else:
            os.environ[WINDOW_ENV] = previous


def score_dates(start: date, end: date, every_days: int) -> list[date]:
    """start, start + every, ... up to end (inclusive)."""
    if every_days < 1:
        raise ValueError("every must be at least 1 day")
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    dates, day = [], start
    while day <= end:
        dates.append(day)
        day += timedelta(days=every_days)
    return dates


def default_score_dates(as_of: date, window: int, count: int, every_days: int) -> list[date]:
    """`count` dates `every_days` apart, the last `window` days before as_of (so its window is complete)."""
    last = as_of - timedelta(days=window)
    return [last - timedelta(days=every_days * i) for i in reversed(range(count))]


@dataclass
class BacktestReport:
    """The backtest of one scoring version, read from the marts."""

    scoring_version: str
    summary: dict[str, Any]
    rates: list[dict[str, Any]] = field(default_factory=list)
    low_score_conversions: int = 0

    def rates_of(self, segment_type: str) -> list[dict[str, Any]]:
        return sorted(
            (r for r in self.rates if r["segment_type"] == segment_type), key=lambda r: r["segment_order"]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "scoring_version": self.scoring_version,
            "summary": self.summary,
            "rates": self.rates,
            "low_score_conversions": self.low_score_conversions,
        }

    def render(self) -> str:
        s = self.summary
        lines = [
            f"backtest of scoring model {self.scoring_version}: {s['observations']:,} lead-dates "
            f"({s['leads']:,} leads, {s['score_dates']} score dates {s['first_score_date']} .. "
            f"{s['last_score_date']}), {s['conversions']:,} converted within {s['window_days']} days "
            f"(observed until {s['observed_until']})",
            f"ROC AUC {fmt(s['roc_auc'], 3)}; base rate {pct(s['base_rate'])}; top tier ({s['top_tier']}) "
            f"captures {pct(s['top_tier_capture_rate'])} of conversions (lift {fmt(s['top_tier_lift'], 2)}); "
            f"top decile {pct(s['top_decile_capture_rate'])} (lift {fmt(s['top_decile_lift'], 2)}); "
            f"MQLs {pct(s['mql_capture_rate'])}",
            "",
            f"{'tier':<14}{'leads':>9}{'converted':>11}{'rate':>9}{'lift':>8}{'capture':>9}",
        ]
        for row in self.rates_of("tier") + [None] + self.rates_of("score_decile"):
            if row is None:
                lines += [
                    "",
                    f"{'score decile':<14}{'leads':>9}{'converted':>11}{'rate':>9}{'lift':>8}{'capture':>9}",
                ]
                continue
            lines.append(
                f"{row['segment_key']:<14}{row['observations']:>9,}{row['conversions']:>11,}"
                f"{pct(row['conversion_rate']):>9}{fmt(row['lift'], 2):>8}"
                f"{pct(row['share_of_conversions']):>9}"
            )
        lines.append(
            f"\nlow-score leads that converted anyway: {self.low_score_conversions:,} "
            f"(see {LOW_SCORE_RELATION})"
        )
        return "\n".join(lines)


def fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [{n: plain_value(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def read_backtest(con: duckdb.DuckDBPyConnection, version: str) -> BacktestReport | None:
    """The backtest marts' rows for a scoring version; None when the version has no measured score date."""
    summary = _rows(con, f"select * from {SUMMARY_RELATION} where scoring_version = ?", [version])
    if not summary:
        return None
    rates = _rows(
        con,
        f"select * from {RATES_RELATION} where scoring_version = ? order by segment_type, segment_order",
        [version],
    )
    low = con.execute(f"select count(*) from {LOW_SCORE_RELATION} where scoring_version = ?", [version])
    return BacktestReport(
        scoring_version=version, summary=summary[0], rates=rates, low_score_conversions=low.fetchone()[0]
    )


def served_version(con: duckdb.DuckDBPyConnection) -> str:
    """The scoring version of the served lead_scores mart."""
    return latest_scoring_version(con)


def run_backtest(
    settings: Settings,
    dates: list[date],
    as_of: date,
    window: int | None = None,
    accept_drift: bool = False,
    progress: Callable[[str], None] = lambda _message: None,
) -> BacktestReport | None:
    """Score the leads as of each past date into the score history, then build, test and publish as of
    as_of (which builds the backtest marts); read the backtest of the published scoring version back.

    The past dates are scored in the pipeline database (write, audit, publish) with `dbt run` of
    the models the history needs, no tests: the one `leadscore build` that follows runs every test and the
    audit, and only then publishes. The pipeline database is marked dirty while the past dates are scored, so
    an interrupted backtest leaves nothing behind for a later publish."""
    from orchestration.build.pipeline import (
        BuildError,
        build,
        describe_failures,
        new_build_id,
        scoring_version,
    )
    from orchestration.build.publishing import dirty_marker, start_build, writer_lock
    from orchestration.build.seed_check import check_seeds

    check_seeds(settings.project_dir)
    version = scoring_version(settings.project_dir)
    with window_override(window):
        if dates:
            with writer_lock(settings):
                working = replace(settings, warehouse_path=start_build(settings))
                seeded = run_dbt(working, ["seed"])
                if not seeded.success:
                    raise BuildError(describe_failures(seeded.failures, seeded.output))
                for day in sorted(dates):
                    dbt_vars = {
                        "as_of": day.isoformat(),
                        "build_id": new_build_id(),
                        "scoring_version": version,
                    }
                    result = run_dbt(working, ["run", "--select", f"+{HISTORY_MODEL}"], dbt_vars=dbt_vars)
                    if not result.success:
                        raise BuildError(
                            f"scoring as of {day.isoformat()} failed: "
                            + describe_failures(result.failures, result.output)
                        )
                    progress(f"scored as of {day.isoformat()} into the history")
                dirty_marker(settings).unlink(missing_ok=True)  # complete: the build below may keep it
        summary = build(settings, as_of=as_of, accept_drift=accept_drift)
        progress(
            f"built, tested and published as of {as_of.isoformat()} (scoring model {summary.scoring_version})"
        )
    with connect_read_only(settings.warehouse_path) as con:
        return read_backtest(con, summary.scoring_version)


def unmeasurable_dates(dates: list[date], as_of: date, window: int) -> list[date]:
    """The dates whose conversion window would end after as_of (not measured yet)."""
    return [d for d in dates if d + timedelta(days=window) > as_of]
