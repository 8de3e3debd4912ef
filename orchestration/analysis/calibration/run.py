"""The whole calibration: backtest in a sandbox, fit, propose, re-score the proposal, report."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from orchestration.analysis.backtest import score_dates
from orchestration.analysis.calibration.dataset import OBSERVATIONS, Backtest, CalibrationError, read_backtest
from orchestration.analysis.calibration.features import Design, encode
from orchestration.analysis.calibration.model import Fitted, fit, hashed_holdout, roc_auc
from orchestration.analysis.calibration.proposal import Proposal, describe_changes, propose, read_seeds
from orchestration.analysis.calibration.report import render_report
from orchestration.analysis.sandbox import Sandbox, copy_raw_layer, create_sandbox, load_raw_folder, score
from orchestration.audit.quality import DriftBounds
from orchestration.build.publishing import pipeline_path
from orchestration.settings import Settings
from orchestration.warehouse import LEAD_SCORES

__all__ = ["CalibrateOptions", "CalibrationError", "calibrate"]


@dataclass
class CalibrateOptions:
    """What `leadscore calibrate` was asked."""

    start: date
    end: date
    every: int = 30
    window: int = 60
    as_of: date | None = None  # default: end + window (the first date every window is complete)
    holdout: float = 0.3  # share of leads held out by a hash of lead_id, when holdout_leads is None
    holdout_leads: frozenset[str] | None = None
    data_dir: Path | None = None  # an export folder instead of the served raw layer
    seeds_dir: Path | None = None  # seed CSVs that replace the project's for the current tables
    min_support: int = 30
    evaluate: bool = True
    dates: list[date] = field(init=False)

    def __post_init__(self) -> None:
        self.dates = score_dates(self.start, self.end, self.every)
        self.as_of = self.as_of or self.end + timedelta(days=self.window)
        late = [d for d in self.dates if d + timedelta(days=self.window) > self.as_of]
        if late:
            raise CalibrationError(
                f"the {self.window}-day window after {late[0].isoformat()} ends after --as-of "
                f"{self.as_of.isoformat()}: conversions there are not known yet"
            )


def calibrate(
    settings: Settings,
    options: CalibrateOptions,
    out_dir: Path,
    progress: Callable[[str], None] = lambda _message: None,
) -> dict[str, Any]:
    """Run everything; write the proposed seed CSVs, calibration.md and calibration.json into out_dir."""
    with tempfile.TemporaryDirectory(prefix="leadscore-calibrate-") as tmp:
        current = _scored_sandbox(settings, options, Path(tmp), progress)
        seeds = read_seeds(current.seeds_dir())
        backtest = read_backtest(current.warehouse_path, current.version(), seeds["engagement_event_points"])
        held_out = _held_out(backtest, options)
        train = ~held_out
        design = encode(
            backtest,
            train,
            seeds["lead_property_rules"],
            seeds["negative_rules"],
            _engaging_rules(seeds)["event_rule"].tolist(),
            options.min_support,
        )
        design, fitted = _fit_without_positive_negatives(design, train)
        progress(f"fitted {len(design.columns)} features on {int(train.sum()):,} lead-dates")
        proposal = propose(design, fitted, seeds, backtest.observations, train, options.min_support)
        files = proposal.files()
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (out_dir / name).write_bytes(content)
        result = _summary(backtest, options, design, fitted, proposal, seeds, held_out, sorted(files))
        if options.evaluate:
            progress("re-scoring the backtest with the proposed tables")
            proposed = create_sandbox(Path(tmp), "proposed", current.project_dir, files)
            copy_raw_layer(proposed, current.warehouse_path)
            score(proposed, options.as_of, options.dates, window_days=options.window)
            result["evaluation"] = _evaluate(backtest, design, fitted, held_out, current, proposed)
    (out_dir / "calibration.json").write_text(json.dumps(result, indent=2, default=str))
    (out_dir / "calibration.md").write_text(render_report(result))
    return result


def _scored_sandbox(
    settings: Settings, options: CalibrateOptions, root: Path, progress: Callable[[str], None]
) -> Sandbox:
    overrides = (
        {p.name: p.read_bytes() for p in sorted(options.seeds_dir.glob("*.csv"))}
        if options.seeds_dir
        else None
    )
    sandbox = create_sandbox(root, "current", settings.project_dir, overrides)
    if options.data_dir is not None:
        load_raw_folder(sandbox, options.data_dir)
    else:
        copy_raw_layer(sandbox, pipeline_path(settings))
    progress(
        f"backtest: scoring {len(options.dates)} past dates with the current tables, observed {options.as_of}"
    )
    score(sandbox, options.as_of, options.dates, window_days=options.window)
    return sandbox


def _engaging_rules(seeds: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The event rules the engagement score learns: every rule that signals a buying stage or takes points (a
    careers page of stage none that takes points is learned; sends, bounces and unsubscribes are not)."""
    events = seeds["engagement_event_points"]
    return events[(events["buying_stage"] != "none") | (events["points"].astype(float) != 0)]


def _held_out(backtest: Backtest, options: CalibrateOptions) -> np.ndarray:
    lead_ids = backtest.observations["lead_id"]
    if options.holdout_leads is None:
        return hashed_holdout(lead_ids, options.holdout)
    held_out = lead_ids.isin(options.holdout_leads).to_numpy()
    if not held_out.any() or held_out.all():
        raise CalibrationError("the held-out leads given match none (or all) of the backtest's leads")
    return held_out


def _fit_without_positive_negatives(design: Design, train: np.ndarray) -> tuple[Design, Fitted]:
    """Fit; a negative rule the data says raises conversion cannot take points: drop it and fit again."""
    fitted = fit(design, train)
    positive = [n.feature for n in design.negatives if fitted.coefficients[n.feature] > 0]
    if not positive:
        return design, fitted
    keep = [i for i, c in enumerate(design.columns) if c not in positive]
    design = Design(
        x=design.x[:, keep],
        y=design.y,
        lead_ids=design.lead_ids,
        columns=[design.columns[i] for i in keep],
        properties=design.properties,
        events=design.events,
        negatives=[n for n in design.negatives if n.feature not in positive],
        positive_negatives=[n.rule_key for n in design.negatives if n.feature in positive],
    )
    return design, fit(design, train)


def _summary(
    backtest: Backtest,
    options: CalibrateOptions,
    design: Design,
    fitted: Fitted,
    proposal: Proposal,
    seeds: dict[str, pd.DataFrame],
    held_out: np.ndarray,
    files: list[str],
) -> dict[str, Any]:
    obs = backtest.observations
    return {
        "scoring_version": backtest.scoring_version,
        "observed_until": options.as_of.isoformat(),
        "window_days": backtest.window_days,
        "score_dates": [d.isoformat() for d in backtest.score_dates],
        "lead_dates": len(obs),
        "leads": int(obs["lead_id"].nunique()),
        "conversions": int(obs["converted"].sum()),
        "held_out_lead_dates": int(held_out.sum()),
        "held_out_conversions": int(obs.loc[held_out, "converted"].sum()),
        "held_out_by": "given lead ids"
        if options.holdout_leads is not None
        else f"hash of lead_id ({options.holdout})",
        "min_support": options.min_support,
        "features": len(design.columns),
        "inverse_penalty": fitted.inverse_penalty,
        "points_per_log_odds": proposal.scale,
        "coefficients": fitted.coefficients,
        "properties": [
            {
                "property": e.property_name,
                "dimension": e.dimension,
                "numeric": e.numeric,
                "categories": len(e.categories),
            }
            for e in design.properties
        ],
        "changes": describe_changes(seeds, proposal),
        "notes": proposal.notes,
        "files": files,
    }


def _evaluate(
    backtest: Backtest,
    design: Design,
    fitted: Fitted,
    held_out: np.ndarray,
    current: Sandbox,
    proposed: Sandbox,
) -> dict[str, Any]:
    """ROC AUC of the current tables, the proposed tables (as the real build scored them) and the
    regression; the calibration table and conversion by proposed tier on held-out leads; the drift a first
    publish sees."""
    obs = backtest.observations.assign(ceiling=fitted.predict(design), held_out=held_out)
    with proposed.connect() as con:
        scored = con.execute(
            f"""
            select lead_id, score_date, cast(score_total as double) as proposed_score, tier as proposed_tier,
                tier_order as proposed_tier_order
            from {OBSERVATIONS} where scoring_version = ?
            """,
            [proposed.version()],
        ).df()
    merged = obs.merge(scored, on=["lead_id", "score_date"], how="inner")
    if len(merged) != len(obs):
        raise CalibrationError(f"the proposed tables scored {len(merged)} of {len(obs)} lead-dates")
    auc = {}
    for scope, mask in (("held_out", merged["held_out"]), ("training", ~merged["held_out"]), ("all", None)):
        part = merged if mask is None else merged[mask]
        auc[scope] = {
            "lead_dates": len(part),
            "conversions": int(part["converted"].sum()),
            "current": roc_auc(part["score_total"], part["converted"]),
            "proposed": roc_auc(part["proposed_score"], part["converted"]),
            "ceiling": roc_auc(part["ceiling"], part["converted"]),
        }
    return {
        "auc": auc,
        "calibration": _calibration_table(merged),
        "tiers": _tier_table(merged[merged["held_out"]]),
        "drift": _drift(current, proposed),
    }


def _calibration_table(merged: pd.DataFrame) -> list[dict[str, Any]]:
    """Held-out lead-dates by decile of the proposed score: the conversion rate a logistic fit of the training
    lead-dates' proposed scores predicts, against the observed rate."""
    train, test = merged[~merged["held_out"]], merged[merged["held_out"]]
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(train[["proposed_score"]], train["converted"])
    test = test.assign(predicted=platt.predict_proba(test[["proposed_score"]])[:, 1])
    test = test.assign(band=pd.qcut(test["proposed_score"].rank(method="first"), 10, labels=False) + 1)
    rows = []
    for band, group in test.groupby("band"):
        rows.append(
            {
                "band": int(band),
                "lowest_score": float(group["proposed_score"].min()),
                "lead_dates": len(group),
                "predicted_rate": float(group["predicted"].mean()),
                "observed_rate": float(group["converted"].mean()),
            }
        )
    return rows


def _tier_table(held: pd.DataFrame) -> list[dict[str, Any]]:
    base = held["converted"].mean()
    rows = []
    for (order, tier), group in held.groupby(["proposed_tier_order", "proposed_tier"]):
        rate = float(group["converted"].mean())
        rows.append(
            {
                "tier": tier,
                "tier_order": int(order),
                "lead_dates": len(group),
                "conversions": int(group["converted"].sum()),
                "rate": rate,
                "lift": rate / base if base else None,
            }
        )
    return rows


def _drift(current: Sandbox, proposed: Sandbox) -> dict[str, Any]:
    """Mean score and MQL share of the final build with each set of tables, against the drift bounds."""
    sides = {}
    for name, sandbox in (("current", current), ("proposed", proposed)):
        with sandbox.connect() as con:
            mean, share = con.execute(
                f"select avg(cast(score_total as double)), avg(cast(is_mql as integer)) from {LEAD_SCORES}"
            ).fetchone()
        sides[name] = {"mean_score": float(mean), "mql_share": float(share)}
    bounds = DriftBounds()
    blocked = (
        abs(sides["proposed"]["mean_score"] - sides["current"]["mean_score"]) > bounds.mean_score
        or abs(sides["proposed"]["mql_share"] - sides["current"]["mql_share"]) > bounds.mql_share
    )
    return {
        **sides,
        "bounds": {"mean_score": bounds.mean_score, "mql_share": bounds.mql_share},
        "blocks": blocked,
    }
