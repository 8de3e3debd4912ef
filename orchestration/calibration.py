"""Propose point values from the score history and the conversions that followed: `leadscore calibrate`.

Input: a warehouse whose backtest has been run (`leadscore backtest`): the lead-dates of
intermediate.int_backtest_observations (leads not yet customers on a past score date, converted or not in the
window after it). For each lead-date the features are

* the fit category of each fit dimension under the current point tables (industry row, company-size band,
  market zone, job role; from intermediate.int_leads_fit_scored: lead attributes do not change over time),
* for each engagement event type, the lead's events before the end of the score date, decayed by the
  type's half-life and capped like the engine does (cap_points / points events' worth),
* which negative rules fired on the score date (history.lead_score_history.negative_rules).

An L2-regularised logistic regression (Newton / IRLS, numpy) gives each category and event type its
conversion lift in log-odds, net of the others. Lifts become points:

* fit: points = k x (lift - lift of the dimension's zero) / weight of the dimension, where the zero is the
  lowest category (industry, zone), or the category the engine scores 0 (unknown company size; no or an
  unmatched job title); one factor k (score points per log-odds unit) for all, chosen so that the proposed
  tables span the same score range as the current ones; negative points are clipped to 0;
* event types: points = k_e x lift per event, with k_e such that the strongest type keeps the current
  highest event points (so the engagement bands keep their meaning); caps keep their number of events;
  types of buying stage `none` (sends, bounces, unsubscribes) stay at 0; negative lifts are clipped to 0;
* engagement levels: the mean engagement lift of the lead-dates in each level (bands unchanged), on the same
  k scale as fit, relative to the lowest level;
* negative rules: points = k x lift / weight of the negative component when the lift is negative, else 0
  (the rule does not predict fewer conversions); a rule that fired on fewer than MIN_RULE_SUPPORT lead-dates
  keeps its current points (not enough evidence either way).

The proposed CSVs keep the seeds' own format (same columns, keys and other values): copy them into seeds/ in
a pull request and `leadscore impact` shows what they change. The report compares current and proposed
points and the backtest ROC AUC of both, on every lead-date and on held-out leads the fit did not see.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from orchestration.sandbox import copy_raw_layer, create_sandbox, score, write_seed_files
from orchestration.settings import Settings

OBSERVATIONS = "intermediate.int_backtest_observations"
FIT_DIMENSIONS: dict[str, tuple[str, str]] = {
    # dimension -> (seed, key column)
    "industry": ("fit_industry_points", "industry_key"),
    "company_size": ("fit_company_size_bands", "band_key"),
    "geography": ("fit_zone_points", "zone_key"),
    "job_role": ("fit_job_roles", "role_key"),
}
# Categories the engine scores 0 without a seed row: their lift is the dimension's zero.
ENGINE_ZEROS: dict[str, tuple[str, ...]] = {
    "company_size": ("unknown",),
    "job_role": ("no_title", "unmatched"),
}
EVENT_SEED = "engagement_event_points"
LEVEL_SEED = "engagement_levels"
NEGATIVE_SEED = "negative_rules"
DEFAULT_CAP_EVENTS = 5.0
MIN_RULE_SUPPORT = 20


class CalibrationError(Exception):
    """Calibration could not run; the message says what is missing."""


@dataclass
class Dataset:
    """One row per lead-date: the outcome and the features."""

    frame: pd.DataFrame
    fit_columns: dict[str, list[str]]  # dimension -> feature columns "dimension=category"
    event_columns: list[str]  # "event=<type>"
    negative_columns: list[str]  # "negative=<rule_key>"
    scoring_version: str
    observed_until: date
    window_days: int
    score_dates: list[date]


@dataclass
class Calibration:
    """Proposed points and how they compare with the current ones."""

    coefficients: dict[str, float]
    points: dict[str, dict[str, float]]  # seed -> key -> proposed points
    current: dict[str, dict[str, float]]  # seed -> key -> current points
    caps: dict[str, float]
    scale: float
    event_scale: float
    marginal: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Reading the backtest
# --------------------------------------------------------------------------------------------------


def _read_seed(project_dir: Path, seed: str) -> pd.DataFrame:
    return pd.read_csv(project_dir / "seeds" / f"{seed}.csv", dtype=str, keep_default_na=False)


def _weights(project_dir: Path) -> dict[str, float]:
    weights = _read_seed(project_dir, "score_weights")
    return {row.component_key: float(row.weight) for row in weights.itertuples(index=False)}


def load_dataset(warehouse: Path, project_dir: Path, scoring_version: str | None = None) -> Dataset:
    """The lead-dates of the backtest of a scoring version (default: the served mart's) and their features."""
    if not warehouse.exists():
        raise CalibrationError(f"no warehouse at {warehouse}: run `leadscore backtest` first")
    events_seed = _read_seed(project_dir, EVENT_SEED)
    engaging = events_seed[
        (events_seed["buying_stage"] != "none") & (events_seed["points"].astype(float) > 0)
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        try:
            version = (
                scoring_version
                or con.execute("select max(scoring_version) from marts.lead_scores").fetchone()[0]
            )
            summary = con.execute(
                "select observed_until, window_days from marts.backtest_summary where scoring_version = ?",
                [version],
            ).fetchone()
        except duckdb.CatalogException as exc:
            raise CalibrationError(
                f"{warehouse} has no backtest: run `leadscore backtest` first ({exc})"
            ) from exc
        if summary is None:
            raise CalibrationError(
                f"no backtest of scoring model {version} in {warehouse}: run `leadscore backtest` first"
            )
        observed_until, window = summary
        observations = con.execute(
            f"""
            select obs.lead_id, obs.score_date, cast(obs.converted_in_window as integer) as converted,
                cast(obs.score_total as double) as score_total,
                cast(obs.negative_score as double) as negative_score, history.negative_rules
            from {OBSERVATIONS} as obs
            inner join history.lead_score_history as history
                on obs.lead_id = history.lead_id and obs.score_date = history.score_date
                and obs.scoring_version = history.scoring_version
            where obs.scoring_version = ?
                -- histories written before negative_rules was recorded cannot tell which rules fired
                and (obs.negative_score = 0 or history.negative_rules is not null)
            """,
            [version],
        ).df()
        fit = con.execute(
            "select lead_id, component_key, rule_key from intermediate.int_leads_fit_scored"
        ).df()
        con.register("engaging_types", engaging[["event_type", "points", "cap_points", "half_life_days"]])
        events = con.execute(
            f"""
            with obs as (select distinct lead_id, score_date from {OBSERVATIONS} where scoring_version = ?),
            types as (
                select event_type, cast(half_life_days as double) as half_life,
                    cast(cap_points as double) / cast(points as double) as cap_events
                from engaging_types
            ),
            decayed as (
                select obs.lead_id, obs.score_date, e.event_type, types.cap_events,
                    sum(power(0.5, (epoch(cast(obs.score_date + 1 as timestamp)) - epoch(e.occurred_at))
                        / 86400.0 / types.half_life)) as decayed_events
                from obs
                join intermediate.int_events_validated as e
                    on e.lead_id = obs.lead_id and e.reject_reason is null
                    and e.occurred_at < cast(obs.score_date + 1 as timestamp)
                join types on e.event_type = types.event_type
                group by all
            )
            select lead_id, score_date, event_type, least(decayed_events, cap_events) as x from decayed
            """,
            [version],
        ).df()
    if observations.empty:
        raise CalibrationError(
            f"the backtest of scoring model {version} has no lead-date with a complete window"
        )
    frame = observations.copy()
    fit_columns: dict[str, list[str]] = {}
    for dimension in FIT_DIMENSIONS:
        rules = fit[fit["component_key"] == dimension].set_index("lead_id")["rule_key"]
        category = frame["lead_id"].map(rules).fillna("(missing)")
        dummies = pd.get_dummies(category, prefix=dimension, prefix_sep="=", dtype=float)
        fit_columns[dimension] = sorted(dummies.columns)
        frame = pd.concat([frame, dummies[fit_columns[dimension]]], axis=1)
    wide = events.pivot_table(
        index=["lead_id", "score_date"], columns="event_type", values="x", aggfunc="sum"
    )
    wide.columns = [f"event={c}" for c in wide.columns]
    event_columns = [f"event={t}" for t in engaging["event_type"]]
    frame = frame.merge(wide.reset_index(), on=["lead_id", "score_date"], how="left")
    for column in event_columns:
        frame[column] = frame[column].fillna(0.0) if column in frame else 0.0
    fired = frame["negative_rules"].fillna("").str.split(",")
    negative_columns = []
    for rule in _read_seed(project_dir, NEGATIVE_SEED)["rule_key"]:
        negative_columns.append(f"negative={rule}")
        frame[negative_columns[-1]] = fired.map(lambda rules, rule=rule: float(rule in rules))
    return Dataset(
        frame=frame,
        fit_columns=fit_columns,
        event_columns=event_columns,
        negative_columns=negative_columns,
        scoring_version=version,
        observed_until=observed_until,
        window_days=int(window),
        score_dates=sorted({pd.Timestamp(d).date() for d in frame["score_date"].unique()}),
    )


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------


def roc_auc(scores: np.ndarray, outcomes: np.ndarray) -> float | None:
    """Rank-based (Mann-Whitney) ROC AUC; ties count half. None without both outcomes."""
    scores = np.asarray(scores, dtype=float)
    outcomes = np.asarray(outcomes).astype(bool)
    positives, negatives = int(outcomes.sum()), int((~outcomes).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[outcomes].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def ridge_logistic(x: np.ndarray, y: np.ndarray, penalty: float, iterations: int = 100) -> np.ndarray:
    """Coefficients (intercept first) of a logistic regression with an L2 penalty on all but the intercept,
    by Newton's method (iteratively reweighted least squares) with step halving."""
    design = np.column_stack([np.ones(len(x)), x])
    ridge = np.full(design.shape[1], float(penalty))
    ridge[0] = 0.0

    def objective(beta: np.ndarray) -> float:
        z = design @ beta
        return float(y @ z - np.logaddexp(0, z).sum() - 0.5 * (ridge * beta**2).sum())

    beta = np.zeros(design.shape[1])
    rate = min(max(y.mean(), 1e-6), 1 - 1e-6)
    beta[0] = math.log(rate / (1 - rate))
    current = objective(beta)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(design @ beta, -35, 35)))
        gradient = design.T @ (y - p) - ridge * beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(ridge) + 1e-9 * np.eye(len(beta))
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        for _ in range(30):
            candidate = objective(beta + step)
            if candidate >= current - 1e-12:
                break
            step = step / 2
        beta, improvement = beta + step, candidate - current
        current = candidate
        if abs(improvement) < 1e-10:
            break
    return beta


def holdout_mask(lead_ids: pd.Series, fraction: float) -> np.ndarray:
    """True for the lead-dates of held-out leads: a stable hash of lead_id picks `fraction` of the leads."""
    if fraction <= 0:
        return np.zeros(len(lead_ids), dtype=bool)

    def bucket(lead_id: str) -> float:
        return int(hashlib.sha256(lead_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    return lead_ids.map(bucket).to_numpy() < fraction


# --------------------------------------------------------------------------------------------------
# From lifts to points
# --------------------------------------------------------------------------------------------------


def fit_model(data: Dataset, train: np.ndarray, penalty: float) -> dict[str, float]:
    columns = (
        [c for cols in data.fit_columns.values() for c in cols] + data.event_columns + data.negative_columns
    )
    x = data.frame[columns].to_numpy(dtype=float)
    y = data.frame["converted"].to_numpy(dtype=float)
    beta = ridge_logistic(x[train], y[train], penalty)
    return {"(intercept)": float(beta[0]), **{c: float(b) for c, b in zip(columns, beta[1:], strict=True)}}


def _round(value: float) -> float:
    return round(max(value, 0.0), 1)


def propose(
    data: Dataset, coefficients: dict[str, float], project_dir: Path, train: np.ndarray
) -> Calibration:
    """Turn the lifts into points on the seeds' scales (see the module docstring)."""
    weights = _weights(project_dir)
    frame = data.frame[train]
    current: dict[str, dict[str, float]] = {}
    relative: dict[str, dict[str, float]] = {}
    for dimension, (seed, key) in FIT_DIMENSIONS.items():
        table = _read_seed(project_dir, seed)
        current[seed] = {row[key]: float(row["points"]) for _, row in table.iterrows()}
        lifts = {
            c.split("=", 1)[1]: coefficients[c]
            for c in data.fit_columns[dimension]
            if c.split("=", 1)[1] in current[seed] or c.split("=", 1)[1] in ENGINE_ZEROS.get(dimension, ())
        }
        zeros = [k for k in ENGINE_ZEROS.get(dimension, ()) if k in lifts]
        if zeros:
            counts = {k: frame[f"{dimension}={k}"].sum() for k in zeros}
            total = sum(counts.values())
            zero = sum(lifts[k] * counts[k] for k in zeros) / total if total else 0.0
        else:
            zero = min(lifts[k] for k in current[seed] if k in lifts)
        relative[seed] = {k: lifts.get(k, zero) - zero for k in current[seed]}

    # Engagement: event points on the current event-points scale, then levels from the engagement lift.
    events = _read_seed(project_dir, EVENT_SEED)
    current[EVENT_SEED] = {r.event_type: float(r.points) for r in events.itertuples(index=False)}
    engaging = [c.split("=", 1)[1] for c in data.event_columns]
    event_lifts = {t: max(coefficients[f"event={t}"], 0.0) for t in engaging}
    strongest = max(event_lifts.values(), default=0.0)
    top_points = max((current[EVENT_SEED][t] for t in engaging), default=0.0)
    event_scale = top_points / strongest if strongest > 0 else 0.0
    event_points = {t: _round(event_scale * lift) for t, lift in event_lifts.items()}
    caps: dict[str, float] = {}
    for row in events.itertuples(index=False):
        points, cap = float(row.points), float(row.cap_points)
        if row.event_type in event_points:
            ratio = cap / points if points > 0 else DEFAULT_CAP_EVENTS
            caps[row.event_type] = round(event_points[row.event_type] * ratio, 1)
    x_events = data.frame[data.event_columns].to_numpy(dtype=float)
    engagement_lift = x_events @ np.array([event_lifts[t] for t in engaging])
    engagement_points = x_events @ np.array([event_points[t] for t in engaging])
    levels = _read_seed(project_dir, LEVEL_SEED)
    current[LEVEL_SEED] = {r.level_key: float(r.points) for r in levels.itertuples(index=False)}
    level_lift: dict[str, float] = {}
    for row in levels.itertuples(index=False):
        mask = np.ones(len(engagement_points), dtype=bool)
        if row.min_engagement_points != "":
            mask &= engagement_points >= float(row.min_engagement_points)
        if row.max_engagement_points != "":
            mask &= engagement_points < float(row.max_engagement_points)
        mask &= train
        level_lift[row.level_key] = float(engagement_lift[mask].mean()) if mask.any() else math.nan
    ordered = sorted(levels.itertuples(index=False), key=lambda r: float(r.min_engagement_points or "-inf"))
    running, filled = 0.0, {}
    for row in ordered:  # monotone: a higher band is never worth less; an empty band keeps the one below
        value = level_lift[row.level_key]
        running = value if not math.isnan(value) and (not filled or value > running) else running
        filled[row.level_key] = running
    lowest = filled[ordered[0].level_key]
    relative[LEVEL_SEED] = {k: v - lowest for k, v in filled.items()}

    # One scale k (score points per log-odds unit): the proposed tables span the current score range.
    weight_of = {
        "fit_industry_points": weights.get("industry", 0),
        "fit_company_size_bands": weights.get("company_size", 0),
        "fit_zone_points": weights.get("geography", 0),
        "fit_job_roles": weights.get("job_role", 0),
        LEVEL_SEED: weights.get("engagement", 0),
    }
    zero_rows = {"fit_company_size_bands": [0.0], "fit_job_roles": [0.0]}  # the engine's implicit zeros
    current_span = sum(
        weight_of[s]
        * (
            max([*current[s].values(), *zero_rows.get(s, [])])
            - min([*current[s].values(), *zero_rows.get(s, [])])
        )
        for s in weight_of
    )
    proposed_span = sum(max(max(relative[s].values()), 0.0) for s in weight_of)
    scale = current_span / proposed_span if proposed_span > 0 else 0.0
    points: dict[str, dict[str, float]] = {
        s: {
            k: _round(scale * v / weight_of[s]) if weight_of[s] else current[s][k]
            for k, v in relative[s].items()
        }
        for s in weight_of
    }
    points[EVENT_SEED] = {t: event_points.get(t, current[EVENT_SEED][t]) for t in current[EVENT_SEED]}
    for row in events.itertuples(index=False):
        if row.buying_stage == "none":
            points[EVENT_SEED][row.event_type] = 0.0
    negative = _read_seed(project_dir, NEGATIVE_SEED)
    current[NEGATIVE_SEED] = {r.rule_key: float(r.points) for r in negative.itertuples(index=False)}
    points[NEGATIVE_SEED] = {}
    for rule, now in current[NEGATIVE_SEED].items():
        column = f"negative={rule}"
        support = int(frame[column].sum()) if column in frame else 0
        if support < MIN_RULE_SUPPORT or not weights.get("negative"):
            points[NEGATIVE_SEED][rule] = now
        else:
            proposed = scale * min(coefficients[column], 0.0) / weights["negative"]
            points[NEGATIVE_SEED][rule] = -_round(-proposed)
    return Calibration(
        coefficients=coefficients,
        points=points,
        current=current,
        caps=caps,
        scale=scale,
        event_scale=event_scale,
    )


def marginal_lifts(data: Dataset, train: np.ndarray, prior_strength: float = 20.0) -> list[dict[str, Any]]:
    """Per category: lead-dates, conversions, rate and the smoothed log-odds lift over the base rate (each
    category's rate is shrunk towards the base rate with `prior_strength` pseudo lead-dates)."""
    frame = data.frame[train]
    base = frame["converted"].mean()
    rows = []
    columns = (
        [c for cols in data.fit_columns.values() for c in cols] + data.event_columns + data.negative_columns
    )
    for column in columns:
        has = frame[column] > 0
        n, k = int(has.sum()), int(frame.loc[has, "converted"].sum())
        smoothed = (k + prior_strength * base) / (n + prior_strength)
        lift = math.log(smoothed / (1 - smoothed)) - math.log(base / (1 - base)) if 0 < base < 1 else None
        rows.append(
            {
                "feature": column,
                "lead_dates": n,
                "conversions": k,
                "rate": k / n if n else None,
                "log_odds_lift": lift,
            }
        )
    return rows


# --------------------------------------------------------------------------------------------------
# Writing the seeds
# --------------------------------------------------------------------------------------------------


def _number_text(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def render_seed(
    project_dir: Path, seed: str, key: str, points: dict[str, float], caps: dict[str, float] | None = None
) -> bytes:
    """The seed CSV with its points (and caps) replaced; every other column and row kept as it is."""
    text = (project_dir / "seeds" / f"{seed}.csv").read_text()
    reader = csv.DictReader(io.StringIO(text))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    for row in reader:
        if row[key] in points:
            row["points"] = _number_text(points[row[key]])
        if caps is not None and row[key] in caps:
            row["cap_points"] = _number_text(max(caps[row[key]], float(row["points"])))
        writer.writerow(row)
    return buffer.getvalue().encode()


def seed_files(project_dir: Path, calibration: Calibration) -> dict[str, bytes]:
    files = {
        f"{seed}.csv": render_seed(project_dir, seed, key, calibration.points[seed])
        for seed, key in FIT_DIMENSIONS.values()
    }
    files[f"{EVENT_SEED}.csv"] = render_seed(
        project_dir, EVENT_SEED, "event_type", calibration.points[EVENT_SEED], calibration.caps
    )
    files[f"{LEVEL_SEED}.csv"] = render_seed(
        project_dir, LEVEL_SEED, "level_key", calibration.points[LEVEL_SEED]
    )
    files[f"{NEGATIVE_SEED}.csv"] = render_seed(
        project_dir, NEGATIVE_SEED, "rule_key", calibration.points[NEGATIVE_SEED]
    )
    return files


# --------------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------------


def evaluate_proposal(
    settings: Settings, data: Dataset, files: dict[str, bytes], workdir: Path
) -> pd.DataFrame:
    """Score the served raw data with the proposed seeds on the backtest's dates (in a sandbox); return the
    proposed scores of the same lead-dates."""
    sandbox = create_sandbox(workdir, "proposed", settings.project_dir)
    write_seed_files(sandbox, files)
    copy_raw_layer(sandbox, settings.warehouse_path)
    version = score(sandbox, data.observed_until, data.score_dates, window_days=data.window_days)
    with sandbox.connect() as con:
        return con.execute(
            f"""
            select lead_id, score_date, cast(score_total as double) as proposed_score
            from {OBSERVATIONS} where scoring_version = ?
            """,
            [version],
        ).df()


def calibrate(
    settings: Settings, out_dir: Path, penalty: float = 10.0, holdout: float = 0.3, evaluate: bool = True
) -> dict[str, Any]:
    """Fit, propose, write the CSVs and the report into out_dir; return the report as a dict."""
    data = load_dataset(settings.warehouse_path, settings.project_dir)
    held_out = holdout_mask(data.frame["lead_id"], holdout)
    train = ~held_out
    coefficients = fit_model(data, train, penalty)
    calibration = propose(data, coefficients, settings.project_dir, train)
    calibration.marginal = marginal_lifts(data, train)
    files = seed_files(settings.project_dir, calibration)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out_dir / name).write_bytes(content)
    result: dict[str, Any] = {
        "scoring_version": data.scoring_version,
        "observed_until": data.observed_until.isoformat(),
        "window_days": data.window_days,
        "score_dates": [d.isoformat() for d in data.score_dates],
        "lead_dates": int(len(data.frame)),
        "conversions": int(data.frame["converted"].sum()),
        "held_out_leads_fraction": holdout,
        "held_out_lead_dates": int(held_out.sum()),
        "held_out_conversions": int(data.frame.loc[held_out, "converted"].sum()),
        "penalty": penalty,
        "points_per_log_odds": calibration.scale,
        "event_points_per_log_odds": calibration.event_scale,
        "coefficients": coefficients,
        "marginal": calibration.marginal,
        "tables": _tables(calibration),
        "files": sorted(files),
        "auc": None,
    }
    if evaluate:
        with tempfile.TemporaryDirectory(prefix="leadscore-calibrate-") as tmp:
            proposed = evaluate_proposal(settings, data, files, Path(tmp))
        merged = data.frame.merge(proposed, on=["lead_id", "score_date"], how="inner")
        merged_held_out = holdout_mask(merged["lead_id"], holdout)
        result["auc"] = {
            "all": {
                "lead_dates": int(len(merged)),
                "current": roc_auc(merged["score_total"], merged["converted"]),
                "proposed": roc_auc(merged["proposed_score"], merged["converted"]),
            },
            "held_out": {
                "lead_dates": int(merged_held_out.sum()),
                "current": roc_auc(
                    merged.loc[merged_held_out, "score_total"], merged.loc[merged_held_out, "converted"]
                ),
                "proposed": roc_auc(
                    merged.loc[merged_held_out, "proposed_score"], merged.loc[merged_held_out, "converted"]
                )
                if merged_held_out.any()
                else None,
            },
        }
    (out_dir / "calibration.json").write_text(json.dumps(result, indent=2, default=str))
    (out_dir / "calibration.md").write_text(render_report(result))
    return result


def _tables(calibration: Calibration) -> list[dict[str, Any]]:
    rows = []
    for seed, proposed in calibration.points.items():
        for key, value in proposed.items():
            rows.append(
                {
                    "seed": seed,
                    "key": key,
                    "current": calibration.current[seed].get(key),
                    "proposed": value,
                    "proposed_cap": calibration.caps.get(key) if seed == EVENT_SEED else None,
                }
            )
    return rows


def _auc_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_report(result: dict[str, Any]) -> str:
    lines = [
        f"# Calibration of scoring model {result['scoring_version']}",
        "",
        f"{result['lead_dates']:,} lead-dates ({len(result['score_dates'])} score dates, "
        f"{result['conversions']:,} converted within {result['window_days']} days, observed until "
        f"{result['observed_until']}). Fit on the leads not held out; {result['held_out_lead_dates']:,} "
        f"lead-dates ({result['held_out_conversions']:,} conversions) of held-out leads measure it.",
        "",
    ]
    auc = result.get("auc")
    if auc:
        lines += [
            "## Backtest ROC AUC",
            "",
            "| lead-dates | current points | proposed points |",
            "|---|---:|---:|",
            f"| all ({auc['all']['lead_dates']:,}) | {_auc_text(auc['all']['current'])} | "
            f"{_auc_text(auc['all']['proposed'])} |",
            f"| held-out leads ({auc['held_out']['lead_dates']:,}) | "
            f"{_auc_text(auc['held_out']['current'])} | {_auc_text(auc['held_out']['proposed'])} |",
            "",
        ]
    lines += [
        "## Points",
        "",
        f"Fit and engagement-level points: {result['points_per_log_odds']:.2f} score points per unit of "
        "log-odds lift, divided by the component's weight; event points: "
        f"{result['event_points_per_log_odds']:.2f} engagement points per unit of log-odds lift per "
        "(decayed) event.",
        "",
        "| seed | key | current | proposed |",
        "|---|---|---:|---:|",
    ]
    for row in result["tables"]:
        cap = f" (cap {row['proposed_cap']:g})" if row.get("proposed_cap") is not None else ""
        lines.append(f"| {row['seed']} | {row['key']} | {row['current']:g} | {row['proposed']:g}{cap} |")
    lines += [
        "",
        "## Lift of each category (training lead-dates)",
        "",
        "| feature | lead-dates | converted | rate | smoothed log-odds lift | model lift |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in result["marginal"]:
        rate = "n/a" if row["rate"] is None else f"{100 * row['rate']:.1f}%"
        lift = "n/a" if row["log_odds_lift"] is None else f"{row['log_odds_lift']:+.2f}"
        model = result["coefficients"].get(row["feature"])
        lines.append(
            f"| {row['feature']} | {row['lead_dates']:,} | {row['conversions']:,} | {rate} | {lift} | "
            f"{'n/a' if model is None else f'{model:+.2f}'} |"
        )
    return "\n".join(lines) + "\n"
