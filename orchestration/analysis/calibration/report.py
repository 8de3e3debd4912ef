"""calibration.md: what the calibration measured and proposes, and how to adopt it."""

from __future__ import annotations

from typing import Any


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def render_report(result: dict[str, Any]) -> str:
    lines = [
        f"# Calibration of scoring model {result['scoring_version']}",
        "",
        f"{result['lead_dates']:,} lead-dates of {result['leads']:,} leads "
        f"({len(result['score_dates'])} score dates, {result['conversions']:,} converted within "
        f"{result['window_days']} days, observed until {result['observed_until']}). "
        f"Held out ({result['held_out_by']}): {result['held_out_lead_dates']:,} lead-dates, "
        f"{result['held_out_conversions']:,} conversions; the fit never saw them. {result['features']} "
        f"features (categories with at least {result['min_support']} training leads), "
        f"{result['points_per_log_odds']:.2f} score points per unit of log-odds.",
        "",
    ]
    evaluation = result.get("evaluation")
    if evaluation:
        lines += _evaluation(evaluation)
    lines += _adoption(evaluation)
    lines += [
        "## What changes",
        "",
        "| seed | key | current | proposed |",
        "|---|---|---:|---:|",
    ]
    for row in result["changes"]:
        if row["current"] != row["proposed"]:
            lines.append(
                f"| {row['seed']} | {row['key']} | {row['current'] or ''} | {row['proposed'] or ''} |"
            )
    lines += ["", "Grade bands, engagement levels, tiers and the MQL threshold: see the proposed CSVs.", ""]
    if result["notes"]:
        lines += ["## Notes", "", *(f"- {note}" for note in result["notes"]), ""]
    return "\n".join(lines) + "\n"


def _evaluation(evaluation: dict[str, Any]) -> list[str]:
    auc = evaluation["auc"]
    lines = [
        "## ROC AUC",
        "",
        "| lead-dates | current tables | proposed tables | regression (ceiling) |",
        "|---|---:|---:|---:|",
    ]
    for scope, label in (("held_out", "held-out leads"), ("training", "training leads"), ("all", "all")):
        row = auc[scope]
        lines.append(
            f"| {label} ({row['lead_dates']:,}, {row['conversions']:,} converted) | {_auc(row['current'])} | "
            f"{_auc(row['proposed'])} | {_auc(row['ceiling'])} |"
        )
    lines += [
        "",
        "The proposed tables are re-scored by the real build on the same dates; the ceiling is the fitted "
        "regression itself (the points are its coefficients, rounded).",
        "",
        "## Calibration (held-out leads, by decile of the proposed score)",
        "",
        "| decile | lowest score | lead-dates | predicted rate | observed rate |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in evaluation["calibration"]:
        lines.append(
            f"| {row['band']} | {row['lowest_score']:.2f} | {row['lead_dates']:,} | "
            f"{_pct(row['predicted_rate'])} | {_pct(row['observed_rate'])} |"
        )
    lines += [
        "",
        "## Conversion by proposed tier (held-out leads)",
        "",
        "| tier | lead-dates | converted | rate | lift |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in evaluation["tiers"]:
        lift = "n/a" if row["lift"] is None else f"{row['lift']:.2f}"
        lines.append(
            f"| {row['tier']} | {row['lead_dates']:,} | {row['conversions']:,} | {_pct(row['rate'])} | "
            f"{lift} |"
        )
    return [*lines, ""]


def _adoption(evaluation: dict[str, Any] | None) -> list[str]:
    lines = [
        "## How to adopt",
        "",
        "1. Copy the CSVs of this folder into `seeds/` in a branch.",
        "2. `leadscore impact --base main` shows what they change (tiers, MQLs, grade cells, top movers); "
        "put it in the pull request.",
    ]
    drift = (evaluation or {}).get("drift")
    if drift and drift["blocks"]:
        lines.append(
            "3. After the merge, publish with `leadscore build --accept-drift`: the mean score moves from "
            f"{drift['current']['mean_score']:.2f} to {drift['proposed']['mean_score']:.2f} and the MQL "
            f"share from {_pct(drift['current']['mql_share'])} to {_pct(drift['proposed']['mql_share'])}, "
            f"beyond the drift bounds ({drift['bounds']['mean_score']:g} points, "
            f"{_pct(drift['bounds']['mql_share'])}), so the "
            "first build with the new tables is held back otherwise (Dagster: `accept_drift` in the "
            "great_expectations op's config)."
        )
    else:
        lines.append(
            "3. After the merge, `leadscore build` publishes them (the drift check may still hold back a "
            "build whose mean score or MQL share moves beyond its bounds: `--accept-drift` then)."
        )
    return [*lines, ""]
