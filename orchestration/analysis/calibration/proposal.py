"""From the regression's coefficients to complete point tables.

Scale: one factor k (score points per unit of log-odds) for everything, chosen so that the middle 90 % of the
proposed totals spans what the current totals span (at least MIN_SPREAD points), so scores stay on a familiar
scale. Then, with w the weight of the dimension a point counts in:

* property category: k x (coefficient - lowest coefficient of the property) / w, so a property gives 0 for
  its worst category and points for the others (a category without training leads, an `otherwise` no rare
  value fell into, scores as the property's most common category: new values score as the typical lead);
* event rule: k x coefficient / cap / w per event (w: the engagement_points weight, proposed 1: engagement
  then counts point by point, and the engagement levels' points become 0: the level only labels), capped at
  that many events' worth, negative where the data says so;
* negative rule: k x coefficient / w when the coefficient is negative (a rule whose coefficient is positive
  was dropped from the fit: it proposes 0); a rule that fired on too few lead-dates keeps its points.

Thresholds, learned on the training lead-dates' proposed totals:
* tiers: the best tier starts at the lowest total whose leads at or above convert at TOP_TIER_LIFT x the
  base rate; the next tier at the lowest total whose band (down to the better tier) still converts at the
  base rate; the rest is the last tier (more tiers: lifts spaced evenly between those two);
* MQL threshold: the lowest total whose leads at or above convert at MQL_LIFT x the base rate;
* fit grades A-D, engagement grades 1-4 and engagement levels: quantile cuts of the proposed fit score and
  engagement points (GRADE_SHARES, LEVEL_SHARES).
Each needs at least `min_support` lead-dates; without one a quantile of the totals stands in.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orchestration.analysis.calibration.features import Category, Design, PropertyEncoding
from orchestration.analysis.calibration.model import Fitted

MIN_SPREAD = 10.0
TOP_TIER_LIFT = 3.0
MQL_LIFT = 2.0
GRADE_SHARES = (0.4, 0.7, 0.9)  # cuts of the 4 grades, worst to best
LEVEL_SHARES = (0.6, 0.9)  # cuts of 3 engagement levels
MAX_POINTS = 1000.0
PROPOSED_SEEDS = (
    "lead_property_rules",
    "engagement_event_points",
    "engagement_levels",
    "engagement_grade_bands",
    "fit_grade_bands",
    "negative_rules",
    "score_weights",
    "score_tiers",
    "score_settings",
)


@dataclass
class Proposal:
    """The proposed seeds (as frames of text, in the seeds' own columns) and how they were made."""

    seeds: dict[str, pd.DataFrame]
    scale: float
    totals: np.ndarray  # proposed total of every lead-date (as the proposed tables score it)
    fit_scores: np.ndarray
    engagement_points: np.ndarray
    notes: list[str] = field(default_factory=list)

    def files(self) -> dict[str, bytes]:
        return {f"{name}.csv": _csv_bytes(frame) for name, frame in self.seeds.items()}


def propose(
    design: Design,
    fitted: Fitted,
    current: dict[str, pd.DataFrame],
    observations: pd.DataFrame,
    train: np.ndarray,
    min_support: int,
) -> Proposal:
    """The proposed point tables (see the module docstring). observations: the backtest's lead-dates in the
    design's order (score_total and negative_rules of the current tables)."""
    current_totals = observations["score_total"].to_numpy()
    fired_negatives = observations["negative_rules"].fillna("").str.split(",")
    relative = _relative_coefficients(design, fitted)
    linear = (
        design.x @ np.array([relative[c] for c in design.columns]) if design.columns else np.zeros(len(train))
    )
    spread = _spread(linear[train])
    if spread <= 0:
        raise ValueError("the regression found nothing that separates converters: no proposal")
    scale = max(_spread(current_totals[train]), MIN_SPREAD) / spread
    weights = _weights(current["score_weights"], design)
    weight_of = dict(zip(weights["component_key"], weights["weight"].astype(float), strict=True))
    notes: list[str] = []
    property_rules, category_points = _property_rules(design, relative, scale, weight_of, current, notes)
    events, event_points = _event_points(
        design, fitted, scale, weight_of, current["engagement_event_points"], notes
    )
    negatives = _negative_points(design, fitted, scale, weight_of, current, notes)
    negative_totals = weight_of.get("negative", 0.0) * _fired_points(fired_negatives, negatives)
    property_rules = pd.concat([property_rules, negatives["lead_property_rules"]], ignore_index=True)
    columns = design.column_index()
    x = design.x.toarray()

    def contribution(points: dict[str, float]) -> np.ndarray:
        out = np.zeros(len(train))
        for feature, value in points.items():
            out += x[:, columns[feature]] * value
        return out

    fit_scores = contribution(category_points)
    engagement = contribution(event_points)
    totals = fit_scores + weight_of["engagement_points"] * engagement + negative_totals
    y = design.y
    seeds = {
        "lead_property_rules": property_rules,
        "engagement_event_points": events,
        "engagement_levels": _levels(current["engagement_levels"], engagement[train]),
        "engagement_grade_bands": _grade_bands(
            current["engagement_grade_bands"], "engagement_grade", "engagement_points", engagement[train]
        ),
        "fit_grade_bands": _grade_bands(
            current["fit_grade_bands"], "fit_grade", "fit_points", fit_scores[train]
        ),
        "negative_rules": negatives["negative_rules"],
        "score_weights": weights,
        "score_tiers": _tiers(current["score_tiers"], totals[train], y[train], min_support, notes),
        "score_settings": _settings(current["score_settings"], totals[train], y[train], min_support, notes),
    }
    return Proposal(seeds, scale, totals, fit_scores, engagement, notes)


# -- scale and weights ------------------------------------------------------------------------------------


def _relative_coefficients(design: Design, fitted: Fitted) -> dict[str, float]:
    """Coefficients of each property's categories less that of its lowest one, so a property gives 0 for its
    worst value and points for better ones (one category per property is active, so this shifts every total
    by the same constant). A category no training lead has (an `otherwise` no rare value fell into) has no
    coefficient of its own: it takes the most common category's, so new values score as the typical lead."""
    relative = dict(fitted.coefficients)
    for encoding in design.properties:
        learned = {c.feature: fitted.coefficients[c.feature] for c in encoding.categories if c.support > 0}
        typical = fitted.coefficients[encoding.typical]
        lowest = min(learned.values())
        for category in encoding.categories:
            relative[category.feature] = learned.get(category.feature, typical) - lowest
    return relative


def _spread(values: np.ndarray) -> float:
    if len(values) == 0:
        return 0.0
    low, high = np.quantile(values, [0.05, 0.95])
    return float(high - low) if high > low else float(np.max(values) - np.min(values))


def _weights(current: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The current weights, a weight of 1 for each new dimension (and for engagement_points: engagement
    counts point by point) and for a dimension or negative weight of 0 that must now carry points."""
    weights = current.copy()
    needed = {e.dimension: e.property_name for e in design.properties}
    needed["engagement_points"] = ""
    if design.negatives:
        needed["negative"] = ""
    for dimension, property_name in needed.items():
        existing = weights["component_key"] == dimension
        if not existing.any():
            description = f"Fit: {property_name} (proposed by calibration)"
            row = {
                "component_key": dimension,
                "weight_group": "adjustment",
                "weight": "1",
                "description": description,
            }
            weights = pd.concat([weights, pd.DataFrame([row])], ignore_index=True)
        elif float(weights.loc[existing, "weight"].iloc[0]) == 0:
            if (weights.loc[existing, "weight_group"] == "base").any():
                continue  # a base weight cannot move without breaking the sum of 1: its points stay 0
            weights.loc[existing, "weight"] = "1"
    return weights


def _points(value: float) -> float:
    return float(np.clip(round(value, 2), -MAX_POINTS, MAX_POINTS))


# -- property rules ---------------------------------------------------------------------------------------


def _property_rules(
    design: Design,
    relative: dict[str, float],
    scale: float,
    weight_of: dict[str, float],
    current: dict[str, pd.DataFrame],
    notes: list[str],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The fit rules of every encoded property (the points of each category, after weight, by feature)."""
    rules = current["lead_property_rules"]
    encoded = {e.property_name for e in design.properties}
    dropped = sorted(
        set(rules.loc[rules["dimension"] != "negative", "property"].str.strip().str.lower()) - encoded
    )
    if dropped:
        notes.append(
            "rules dropped (the data gives these properties no variation to learn from): "
            + ", ".join(dropped)
        )
    taken = set(rules.loc[rules["dimension"] == "negative", "rule_key"])
    rows, category_points = [], {}
    for encoding in design.properties:
        weight = weight_of.get(encoding.dimension, 0.0)
        for priority, category in enumerate(encoding.categories, start=1):
            points = _points(scale * relative[category.feature] / weight) if weight else 0.0
            category_points[category.feature] = points * weight
            rows.append(_rule_row(encoding, category, priority, points, rules, taken))
    return pd.DataFrame(rows, columns=rules.columns), category_points


def _rule_row(
    encoding: PropertyEncoding,
    category: Category,
    priority: int,
    points: float,
    rules: pd.DataFrame,
    taken: set[str],
) -> dict[str, str]:
    name = encoding.property_name
    row = {column: "" for column in rules.columns}
    row.update(
        property=name, dimension=encoding.dimension, points=_text(points), match_priority=str(priority)
    )
    if category.kind == "rule":
        kept = rules[rules["rule_key"] == category.rule_key].iloc[0]
        row.update({c: kept[c] for c in ("rule_key", "match_kind", "match_values", "min_value", "max_value")})
        row["description"] = f"{kept['description']} (kept; points learned)".strip()
        taken.add(row["rule_key"])
        return row
    if category.kind == "equals":
        key, kind, description = (
            f"{name}_{_slug(category.value or '')}",
            "equals",
            f"{name} is {category.value}",
        )
        row["match_values"] = category.value or ""
    elif category.kind == "range":
        key, kind = f"{name}_{_slug(_range_text(category))}", "range"
        row["min_value"], row["max_value"] = _bound(category.low), _bound(category.high)
        description = f"{name} in [{_bound(category.low) or '-inf'}, {_bound(category.high) or 'inf'})"
    elif category.kind == "blank":
        key, kind, description = f"{name}_blank", "blank", f"no {name}"
        row["match_priority"] = ""
    else:
        key, kind, description = f"{name}_otherwise", "otherwise", f"any other {name} (rare or new values)"
        row["match_priority"] = ""
    row.update(rule_key=_unique(key, taken), match_kind=kind, description=f"{description} (learned)")
    return row


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "value"


def _range_text(category: Category) -> str:
    return f"{_bound(category.low) or 'min'}_to_{_bound(category.high) or 'max'}"


def _bound(value: float | None) -> str:
    return "" if value is None else _text(value)


def _unique(key: str, taken: set[str]) -> str:
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _text(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


# -- events and negative rules -----------------------------------------------------------------------------


def _event_points(
    design: Design,
    fitted: Fitted,
    scale: float,
    weight_of: dict[str, float],
    current: pd.DataFrame,
    notes: list[str],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Points and caps per event rule (rules not learned: 0), and each feature's points (before weight)."""
    events = current.copy()
    learned = {e.event_rule: e for e in design.events}
    weight = weight_of["engagement_points"]
    feature_points = {}
    for i, row in events.iterrows():
        encoding = learned.get(row["event_rule"])
        if encoding is None:
            if float(row["points"]) != 0:
                notes.append(
                    f"event rule {row['event_rule']}: too few events to learn from, proposed 0 points"
                )
            events.loc[i, ["points", "cap_points"]] = ["0", "0"]
            continue
        per_event = _points(scale * fitted.coefficients[encoding.feature] / encoding.cap_events / weight)
        events.loc[i, "points"] = _text(per_event)
        events.loc[i, "cap_points"] = _text(round(per_event * encoding.cap_events, 2))
        feature_points[encoding.feature] = float(events.loc[i, "cap_points"])  # the feature is count / cap
    return events, feature_points


def _negative_points(
    design: Design,
    fitted: Fitted,
    scale: float,
    weight_of: dict[str, float],
    current: dict[str, pd.DataFrame],
    notes: list[str],
) -> dict[str, pd.DataFrame]:
    """Negative rules (negative_rules and the negative-dimension property rules) with learned points; a rule
    whose leads convert more gets 0, one that fired too rarely to learn from keeps its points."""
    weight = weight_of.get("negative", 0.0)
    learned = {e.rule_key: e for e in design.negatives}
    rules = current["lead_property_rules"]
    tables = {
        "negative_rules": current["negative_rules"].copy(),
        "lead_property_rules": rules[rules["dimension"] == "negative"].copy(),
    }
    for table in tables.values():
        for i, row in table.iterrows():
            encoding = learned.get(row["rule_key"])
            if row["rule_key"] in design.positive_negatives:
                notes.append(f"negative rule {row['rule_key']}: its leads convert more, not less: 0 points")
                table.loc[i, "points"] = "0"
                continue
            if encoding is None:
                notes.append(
                    f"negative rule {row['rule_key']}: too few lead-dates to learn from, points kept"
                )
                continue
            coefficient = fitted.coefficients.get(encoding.feature, 0.0)
            table.loc[i, "points"] = _text(min(0.0, _points(scale * coefficient / weight)) if weight else 0.0)
    return tables


def _fired_points(fired: pd.Series, tables: dict[str, pd.DataFrame]) -> np.ndarray:
    """The proposed points of the negative rules that fired on each lead-date (learned or kept)."""
    points = {
        row.rule_key: float(row.points) for table in tables.values() for row in table.itertuples(index=False)
    }
    return fired.map(lambda keys: sum(points.get(key, 0.0) for key in keys)).to_numpy(dtype=float)


# -- bands and thresholds ----------------------------------------------------------------------------------


def _increasing_cuts(values: np.ndarray, shares: tuple[float, ...]) -> list[float]:
    """Quantile cuts rounded to 0.01, made strictly increasing (a tie moves the next cut up by 0.01)."""
    cuts: list[float] = []
    for share in shares:
        cut = round(float(np.quantile(values, share)), 2) if len(values) else 0.0
        if cuts and cut <= cuts[-1]:
            cut = round(cuts[-1] + 0.01, 2)
        cuts.append(cut)
    return cuts


def _bands_frame(
    current: pd.DataFrame, key: str, ordered_keys: list[str], cuts: list[float], low: str, high: str
) -> pd.DataFrame:
    """Rows of ordered_keys (worst first) over (-inf, cut1), [cut1, cut2), ..., [cutN, inf)."""
    edges = [None, *cuts, None]
    out = current.set_index(key).loc[ordered_keys].reset_index()
    for i in range(len(out)):
        out.loc[i, low] = "" if edges[i] is None else _text(edges[i])
        out.loc[i, high] = "" if edges[i + 1] is None else _text(edges[i + 1])
    return out[current.columns]


def _grade_bands(current: pd.DataFrame, key: str, suffix: str, values: np.ndarray) -> pd.DataFrame:
    low, high = f"min_{suffix}", f"max_{suffix}"
    order = current.assign(bound=pd.to_numeric(current[low], errors="coerce").fillna(-math.inf))
    ordered = order.sort_values("bound")[key].tolist()
    shares = GRADE_SHARES if len(ordered) == 4 else tuple(np.linspace(0.4, 0.9, len(ordered) - 1))
    return _bands_frame(current, key, ordered, _increasing_cuts(values, shares), low, high)


def _levels(current: pd.DataFrame, engagement: np.ndarray) -> pd.DataFrame:
    order = current.assign(
        bound=pd.to_numeric(current["min_engagement_points"], errors="coerce").fillna(-math.inf)
    )
    ordered = order.sort_values("bound")["level_key"].tolist()
    shares = LEVEL_SHARES if len(ordered) == 3 else tuple(np.linspace(0.6, 0.9, len(ordered) - 1))
    levels = _bands_frame(
        current,
        "level_key",
        ordered,
        _increasing_cuts(engagement, shares),
        "min_engagement_points",
        "max_engagement_points",
    )
    levels["points"] = "0"
    return levels


def threshold_for(
    totals: np.ndarray, converted: np.ndarray, lift: float, min_support: int, below: float | None = None
) -> float | None:
    """The lowest total t such that the lead-dates with t <= total (< below, when given) convert at `lift` x
    the base rate, with at least min_support of them; None when no total does."""
    base = converted.mean()
    if base <= 0:
        return None
    keep = totals < below if below is not None else np.ones(len(totals), dtype=bool)
    order = np.argsort(-totals[keep], kind="stable")
    sorted_totals, sorted_converted = totals[keep][order], converted[keep][order]
    counts = np.arange(1, len(sorted_totals) + 1)
    rates = np.cumsum(sorted_converted) / counts
    # Only where the next lead-date has a lower total (a threshold cannot split equal totals).
    last_of_value = np.append(sorted_totals[1:] < sorted_totals[:-1], True)
    ok = last_of_value & (counts >= min_support) & (rates >= lift * base)
    if not ok.any():
        return None
    return float(sorted_totals[np.nonzero(ok)[0][-1]])


def _tiers(
    current: pd.DataFrame, totals: np.ndarray, converted: np.ndarray, min_support: int, notes: list[str]
) -> pd.DataFrame:
    tiers = current.assign(order=current["tier_order"].astype(int)).sort_values("order")
    lifts = np.linspace(TOP_TIER_LIFT, 1.0, max(len(tiers) - 1, 1))
    cuts: list[float] = []
    for i, lift in enumerate(lifts[: len(tiers) - 1]):
        above = cuts[-1] if cuts else None
        cut = threshold_for(totals, converted, lift, min_support, below=above)
        if cut is None or (above is not None and cut >= above):
            fallback = float(np.quantile(totals, 0.9 - 0.3 * i))
            notes.append(
                f"tier {tiers.iloc[i]['tier_key']}: no total reaches {lift:g}x the base rate, quantile used"
            )
            cut = fallback if above is None or fallback < above else above - 0.01
        cuts.append(round(cut, 2))
    keys = tiers["tier_key"].tolist()
    worst_first = list(reversed(keys))
    return _bands_frame(current, "tier_key", worst_first, sorted(cuts), "min_score", "max_score")


def _settings(
    current: pd.DataFrame, totals: np.ndarray, converted: np.ndarray, min_support: int, notes: list[str]
) -> pd.DataFrame:
    settings = current.copy()
    threshold = threshold_for(totals, converted, MQL_LIFT, min_support)
    if threshold is None:
        threshold = float(np.quantile(totals, 0.9))
        notes.append(f"MQL threshold: no total reaches {MQL_LIFT:g}x the base rate, the top decile's used")
    settings.loc[settings["setting_key"] == "mql_threshold", "setting_value"] = _text(round(threshold, 2))
    return settings


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in frame.itertuples(index=False):
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row])
    return buffer.getvalue().encode()


def read_seeds(seeds_dir: Path) -> dict[str, pd.DataFrame]:
    """The seeds a proposal replaces, as frames of text (empty cells as '')."""
    return {
        name: pd.read_csv(seeds_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in PROPOSED_SEEDS
    }


def describe_changes(current: dict[str, pd.DataFrame], proposal: Proposal) -> list[dict[str, Any]]:
    """Rows of the report's points table: seed, key, current and proposed values of the points columns."""
    keys = {
        "lead_property_rules": "rule_key",
        "engagement_event_points": "event_rule",
        "negative_rules": "rule_key",
        "score_weights": "component_key",
    }
    value_column = {"score_weights": "weight"}
    rows = []
    for seed, key in keys.items():
        column = value_column.get(seed, "points")
        before = current[seed].set_index(key)[column].to_dict()
        after = proposal.seeds[seed].set_index(key)[column].to_dict()
        for name in list(after) + [k for k in before if k not in after]:
            rows.append({"seed": seed, "key": name, "current": before.get(name), "proposed": after.get(name)})
    return rows
