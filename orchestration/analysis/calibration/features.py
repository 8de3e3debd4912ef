"""Encode the engine's view of each lead-date as features the engine can score back exactly.

Every feature maps to a rule the proposal writes, so the proposed point tables compute (up to rounding) the
same linear score the regression fits:

* a property becomes a partition of the leads, one category per lead, tried in the order the proposed rules
  will be: its frequent values (`equals` rules, at least `min_support` training leads each), its blank value
  (`blank`), the current non-fallback rules for the values they catch (pattern, list and range rules keep
  their match), then everything else (`otherwise`, which also takes values only new data brings). A numeric
  property (95 % of its values numbers, more than MAX_NUMERIC_CATEGORIES of them) is cut into quantile bands
  of the training leads' values instead (`range` rules [low, high)): a cut is a value the data has (the
  lower of two at a quantile between them), so equal values always share a band, and a band with fewer
  than `min_support` leads is merged into the next;
* an event rule (of engagement_event_points: an event type, or the events of a type whose property matches)
  becomes its decayed count capped at the 90th percentile of the training lead-dates that have one (at least
  one event): the engine's points x decay, capped per rule, is linear in that count;
* a negative rule becomes whether it fired (from the score history).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from orchestration.analysis.calibration.dataset import Backtest

MAX_NUMERIC_CATEGORIES = 12  # a numeric property with more distinct values than this is banded
MAX_CATEGORIES = 60  # at most this many frequent values of one property become rules
NUMERIC_SHARE = 0.95
BAND_SHARES = (0.2, 0.4, 0.6, 0.8)  # quantile cuts of a numeric property
EVENT_CAP_QUANTILE = 0.9
MIN_RULE_SUPPORT = 20  # lead-dates a negative rule must have fired on to be learned
# Properties never learned from: the stage the source tool gives a lead today says whether it converted.
LEAKING_PROPERTIES = frozenset({"lifecycle_stage"})
ENGINE_COMPONENTS = frozenset({"engagement", "engagement_points", "negative", "rfm"})


@dataclass
class Category:
    """One feature of a property: a proposed rule."""

    feature: str
    kind: str  # equals, blank, rule (a current rule kept), range, otherwise
    value: str | None = None  # equals
    rule_key: str | None = None  # rule
    low: float | None = None  # range
    high: float | None = None
    support: int = 0  # training leads


@dataclass
class PropertyEncoding:
    property_name: str
    dimension: str
    categories: list[Category]
    typical: str  # the category with the most training leads
    numeric: bool = False


@dataclass
class EventEncoding:
    event_rule: str
    feature: str
    cap_events: float


@dataclass
class NegativeEncoding:
    rule_key: str
    feature: str
    source: str  # negative_rules or lead_property_rules


@dataclass
class Design:
    """The training matrix and what each column is."""

    x: sparse.csr_matrix
    y: np.ndarray
    lead_ids: np.ndarray
    columns: list[str]
    properties: list[PropertyEncoding] = field(default_factory=list)
    events: list[EventEncoding] = field(default_factory=list)
    negatives: list[NegativeEncoding] = field(default_factory=list)
    # Negative rules the data says raise conversion: left out of the fit, proposed at 0 points.
    positive_negatives: list[str] = field(default_factory=list)

    def column_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.columns)}


def encode(
    backtest: Backtest,
    train: np.ndarray,
    rules: pd.DataFrame,
    negative_rules: pd.DataFrame,
    engaging_rules: list[str],
    min_support: int,
) -> Design:
    """The design matrix of every lead-date; categories, bands and caps are learned on `train` only."""
    obs = backtest.observations
    train_leads = set(obs.loc[train, "lead_id"])
    columns: dict[str, np.ndarray] = {}
    properties = []
    fit_rules = rules[rules["dimension"] != "negative"]
    for name, values in _property_values(backtest).items():
        if name in LEAKING_PROPERTIES:
            continue
        encoding, assigned = _encode_property(
            name, values, train_leads, fit_rules, backtest.fired, min_support
        )
        if encoding is None:
            continue
        properties.append(encoding)
        per_date = obs["lead_id"].map(assigned).to_numpy()
        for category in encoding.categories:
            columns[category.feature] = (per_date == category.feature).astype(float)
    events = _encode_events(backtest, train, engaging_rules, columns)
    negatives = _encode_negatives(obs, train, rules, negative_rules, columns)
    names = list(columns)
    matrix = sparse.csr_matrix(np.column_stack([columns[n] for n in names])) if names else None
    return Design(
        x=matrix if matrix is not None else sparse.csr_matrix((len(obs), 0)),
        y=obs["converted"].to_numpy(dtype=float),
        lead_ids=obs["lead_id"].to_numpy(),
        columns=names,
        properties=properties,
        events=events,
        negatives=negatives,
    )


def _property_values(backtest: Backtest) -> dict[str, pd.Series]:
    """Per property: lead_id -> folded value (None when blank)."""
    out = {}
    for name, group in backtest.properties.groupby("property_name"):
        series = group.set_index("lead_id")["folded_value"]
        out[str(name)] = series[~series.index.duplicated()]
    return out


def _encode_property(
    name: str,
    values: pd.Series,
    train_leads: set[str],
    fit_rules: pd.DataFrame,
    fired: pd.DataFrame,
    min_support: int,
) -> tuple[PropertyEncoding | None, pd.Series]:
    """The categories of one property and each lead's category (feature name)."""
    own_rules = fit_rules[fit_rules["property"].str.strip().str.lower() == name]
    dimension = proposed_dimension(name, own_rules)
    blank = values.isna()
    numbers = pd.to_numeric(values, errors="coerce")
    numeric = (
        not blank.all()
        and numbers[~blank].notna().mean() >= NUMERIC_SHARE
        and numbers[~blank].nunique() > MAX_NUMERIC_CATEGORIES
    )
    if numeric:
        categories, assigned = _bands(name, numbers, blank, train_leads, min_support)
    else:
        categories, assigned = _categories(name, values, blank, train_leads, own_rules, fired, min_support)
    supported = [c for c in categories if c.support > 0]
    if len(supported) < 2:
        return None, assigned
    typical = max(supported, key=lambda c: c.support)
    encoding = PropertyEncoding(name, dimension, categories, typical.feature, numeric=numeric)
    return encoding, assigned


def proposed_dimension(name: str, own_rules: pd.DataFrame) -> str:
    """The dimension a property's rules count in: that of its current fit rules, else one named after it."""
    dimensions = set(own_rules["dimension"])
    if len(dimensions) == 1:
        return dimensions.pop()
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "property"
    return f"{key}_fit" if key in ENGINE_COMPONENTS else key


def _support(assigned: pd.Series, train_leads: set[str]) -> pd.Series:
    return assigned[assigned.index.isin(train_leads)].value_counts()


def _categories(
    name: str,
    values: pd.Series,
    blank: pd.Series,
    train_leads: set[str],
    own_rules: pd.DataFrame,
    fired: pd.DataFrame,
    min_support: int,
) -> tuple[list[Category], pd.Series]:
    counts = values[values.index.isin(train_leads) & ~blank].value_counts()
    frequent = [str(v) for v, n in counts.items() if n >= min_support][:MAX_CATEGORIES]
    assigned = pd.Series(f"{name}=otherwise", index=values.index, dtype=object)
    categories = [Category(f"{name}=equals:{v}", "equals", value=v) for v in frequent]
    is_frequent = values.isin(frequent)
    assigned[is_frequent] = values[is_frequent].map(lambda v: f"{name}=equals:{v}")
    assigned[blank] = f"{name}=blank"
    categories.append(Category(f"{name}=blank", "blank"))
    keepable = own_rules[~own_rules["match_kind"].isin(["blank", "otherwise"])]
    if not keepable.empty:
        caught = fired[(fired["property_name"] == name) & fired["rule_key"].isin(keepable["rule_key"])]
        caught = caught.drop_duplicates("lead_id").set_index("lead_id")["rule_key"].reindex(values.index)
        open_leads = ~is_frequent & ~blank & caught.notna()
        rule_support = caught[open_leads & values.index.isin(train_leads)].value_counts()
        ordered = keepable.assign(priority=keepable["match_priority"].fillna(2**31 - 1)).sort_values(
            ["priority", "rule_key"]
        )
        for rule_key in ordered["rule_key"]:
            if rule_support.get(rule_key, 0) >= min_support:
                feature = f"{name}=rule:{rule_key}"
                categories.append(Category(feature, "rule", rule_key=rule_key))
                assigned[open_leads & (caught == rule_key)] = feature
    categories.append(Category(f"{name}=otherwise", "otherwise"))
    support = _support(assigned, train_leads)
    for category in categories:
        category.support = int(support.get(category.feature, 0))
    return categories, assigned


def _bands(
    name: str, numbers: pd.Series, blank: pd.Series, train_leads: set[str], min_support: int
) -> tuple[list[Category], pd.Series]:
    training = numbers[numbers.index.isin(train_leads) & numbers.notna()]
    cuts = (
        sorted({float(np.quantile(training, share, method="lower")) for share in BAND_SHARES})
        if len(training)
        else []
    )
    cuts = _merged_cuts(training.to_numpy(), cuts, min_support)
    edges = [-math.inf, *cuts, math.inf]
    categories = []
    assigned = pd.Series(f"{name}=otherwise", index=numbers.index, dtype=object)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        feature = f"{name}=range:{_number_text(low)}..{_number_text(high)}"
        categories.append(
            Category(
                feature,
                "range",
                low=None if math.isinf(low) else low,
                high=None if math.isinf(high) else high,
            )
        )
        assigned[numbers.notna() & (numbers >= low) & (numbers < high)] = feature
    assigned[blank] = f"{name}=blank"
    categories += [Category(f"{name}=blank", "blank"), Category(f"{name}=otherwise", "otherwise")]
    support = _support(assigned, train_leads)
    for category in categories:
        category.support = int(support.get(category.feature, 0))
    return categories, assigned


def _merged_cuts(values: np.ndarray, cuts: list[float], min_support: int) -> list[float]:
    """Drop the cuts that would leave a band with fewer than min_support values (the band joins the next)."""
    kept: list[float] = []
    for cut in cuts:
        lower = kept[-1] if kept else -math.inf
        if ((values >= lower) & (values < cut)).sum() >= min_support and (values >= cut).sum() >= min_support:
            kept.append(cut)
    return kept


def _number_text(value: float) -> str:
    return "" if math.isinf(value) else f"{value:g}"


def _encode_events(
    backtest: Backtest, train: np.ndarray, engaging_rules: list[str], columns: dict[str, np.ndarray]
) -> list[EventEncoding]:
    obs = backtest.observations
    key = pd.MultiIndex.from_frame(obs[["lead_id", "score_date"]])
    encodings = []
    for event_rule in engaging_rules:
        rows = backtest.events[backtest.events["event_rule"] == event_rule]
        counts = (
            rows.set_index(["lead_id", "score_date"])["decayed_count"].reindex(key).fillna(0.0).to_numpy()
        )
        present = counts[train & (counts > 0)]
        if len(present) < MIN_RULE_SUPPORT:
            continue
        cap = max(1.0, float(np.quantile(present, EVENT_CAP_QUANTILE)))
        feature = f"event={event_rule}"
        columns[feature] = np.minimum(counts, cap) / cap
        encodings.append(EventEncoding(event_rule, feature, cap))
    return encodings


def _encode_negatives(
    obs: pd.DataFrame,
    train: np.ndarray,
    rules: pd.DataFrame,
    negative_rules: pd.DataFrame,
    columns: dict[str, np.ndarray],
) -> list[NegativeEncoding]:
    fired = obs["negative_rules"].fillna("").str.split(",")
    sources = [(key, "negative_rules") for key in negative_rules["rule_key"]]
    sources += [
        (key, "lead_property_rules") for key in rules.loc[rules["dimension"] == "negative", "rule_key"]
    ]
    encodings = []
    for rule_key, source in sources:
        indicator = fired.map(lambda keys, rule_key=rule_key: rule_key in keys).to_numpy(dtype=float)
        if indicator[train].sum() < MIN_RULE_SUPPORT:
            continue
        feature = f"negative={rule_key}"
        columns[feature] = indicator
        encodings.append(NegativeEncoding(rule_key, feature, source))
    return encodings
