"""Two independent implementations of the lead-score totals, for benchmarks and cross-checks.

- `FLOOR_SQL`: one hand-written DuckDB query over the raw tables and the point tables (the speed floor a
  dbt build is measured against).
- `score_with_pandas`: what a user would otherwise write: a straightforward pandas implementation.

Both assume clean raw data (no contract-breaking rows; the dbt models reject those) and the default rule
semantics of the models: property rules (lead_property_rules), each event counted for one event rule
(engagement_event_points: the first rule of its type whose property matches, else the type's rule without a
property), decayed per event, capped per rule, banded into a level (plus each point times the
engagement_points weight); negative rules (an order or the conversion is activity too); RFM segment from value
or quantile bands; total = sum of weight x points; rank by total, engagement points, fit score, lead id.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from orchestration.settings import LINEAGE_COLUMNS
from orchestration.warehouse import connect_read_only

FLOOR_SQL = (Path(__file__).parent / "sql" / "floor_scoring.sql").read_text()


def score_with_floor_query(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Run the hand-written query on a warehouse that has the raw layer and the point tables loaded."""
    con.execute("set TimeZone = 'UTC'")
    sql = FLOOR_SQL.replace("$as_of_end", f"cast(date '{as_of.isoformat()}' + interval 1 day as timestamp)")
    sql = sql.replace("$as_of_date", f"date '{as_of.isoformat()}'")
    return con.execute(sql).df()


def _band_lookup(values: pd.Series, bands: pd.DataFrame, lower: str, upper: str, result: str) -> pd.Series:
    """The `result` of the band [lower, upper) each value falls in (NaN when none)."""
    out = pd.Series(float("nan"), index=values.index, dtype=object)
    for band in bands.itertuples(index=False):
        low, high = getattr(band, lower), getattr(band, upper)
        mask = pd.Series(True, index=values.index)
        if pd.notna(low):
            mask &= values >= float(low)
        if pd.notna(high):
            mask &= values < float(high)
        out[mask & values.notna()] = getattr(band, result)
    return out


def fold(values: pd.Series) -> pd.Series:
    """Property values as rules compare them (macro property_value_folded): NFC, whitespace runs as one space,
    trimmed, lower case; None when nothing is left."""
    folded = values.map(lambda v: None if v is None or v != v else unicodedata.normalize("NFC", str(v)))
    folded = folded.str.replace(r"\s+", " ", regex=True).str.strip().str.lower()
    return folded.where(folded != "", None)


def property_points(raw_leads: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """lead_id, dimension, points of each property rule that fires (lead_property_rules): per property and
    dimension the matching rule with the lowest match_priority (ties: rule_key), else the otherwise rule."""
    excluded = {"lead_id", "email", "email_domain", "created_at", "converted_at", *LINEAGE_COLUMNS}
    columns = {c.lower(): raw_leads[c] for c in raw_leads.columns if c.lower() not in excluded}
    columns["email_domain"] = raw_leads["email"].str.split("@").str[1]
    rules = rules.assign(
        property_key=rules["property"].str.strip().str.lower(),
        priority=rules["match_priority"].fillna(2**31 - 1),
    ).sort_values(["priority", "rule_key"])
    lead_ids = raw_leads["lead_id"].str.strip().to_numpy()
    fired = []
    for (property_key, dimension), group in rules.groupby(["property_key", "dimension"]):
        value = fold(columns[property_key]).reset_index(drop=True)
        number = pd.to_numeric(value, errors="coerce")
        points = pd.Series(float("nan"), index=value.index)
        for rule in group.itertuples(index=False):
            hit = _rule_matches(rule, value, number) & points.isna()
            points[hit] = float(rule.points)
        fired.append(pd.DataFrame({"lead_id": lead_ids, "dimension": dimension, "points": points}).dropna())
    return (
        pd.concat(fired, ignore_index=True)
        if fired
        else pd.DataFrame(columns=["lead_id", "dimension", "points"])
    )


def _rule_matches(rule: Any, value: pd.Series, number: pd.Series) -> pd.Series:
    kind = rule.match_kind
    if kind == "otherwise":
        return pd.Series(True, index=value.index)
    if kind == "blank":
        return value.isna()
    if kind == "equals":
        target = fold(pd.Series([rule.match_values])).iloc[0]
        return (value == target) | (number == pd.to_numeric(target, errors="coerce"))
    if kind == "in_list":
        items = {item.strip() for item in fold(pd.Series([rule.match_values])).iloc[0].split("|")}
        return value.isin(items)
    if kind == "pattern":
        pattern = re.compile(rule.match_values, re.IGNORECASE)
        return value.map(lambda v: v is not None and pattern.search(v) is not None).astype(bool)
    low, high = rule.min_value, rule.max_value
    return (
        number.notna()
        & ((number >= low) if pd.notna(low) else True)
        & ((number < high) if pd.notna(high) else True)
    )


def _parse_ts(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, utc=True, format="ISO8601").dt.tz_localize(None)


def _leads_in_scope(raw_leads: pd.DataFrame, as_of_end: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """The leads created before the end of the as-of date, by lead_id, and the mask that chose them."""
    leads = pd.DataFrame(
        {
            "lead_id": raw_leads["lead_id"].str.strip(),
            "email_domain": raw_leads["email"].str.strip().str.lower().str.split("@").str[1],
            "created_at": _parse_ts(raw_leads["created_at"]),
        }
    )
    in_scope = (leads["created_at"] < as_of_end).to_numpy()
    return leads[in_scope].set_index("lead_id"), in_scope


def _add_fit_scores(
    leads: pd.DataFrame, raw_leads: pd.DataFrame, seeds: dict[str, pd.DataFrame], weights: pd.Series
) -> None:
    """fit_score (weighted property points) and negative_property_points (the negative dimension's)."""
    properties = property_points(raw_leads, seeds["lead_property_rules"])
    property_weights = properties["dimension"].map(weights).astype(float)
    is_negative = properties["dimension"] == "negative"
    leads["fit_score"] = (
        ((properties["points"] * property_weights)[~is_negative].groupby(properties["lead_id"]).sum())
        .reindex(leads.index)
        .fillna(0.0)
    )
    leads["negative_property_points"] = (
        properties.loc[is_negative].groupby("lead_id")["points"].sum().reindex(leads.index).fillna(0.0)
    )


def _events_in_scope(
    raw_events: pd.DataFrame, rule_seed: pd.DataFrame, as_of_end: pd.Timestamp
) -> pd.DataFrame:
    """The events before the end of the as-of date with their age in days and the event rule they match."""
    events = pd.DataFrame(
        {
            "lead_id": raw_events["lead_id"].str.strip(),
            "event_type": raw_events["event_type"].str.strip().str.lower(),
            "occurred_at": _parse_ts(raw_events["occurred_at"]),
            "properties": raw_events["properties"],
            "is_hard_bounce": raw_events["properties"].str.contains('"bounce_type": "hard"', regex=False),
        }
    )
    events = events[events["occurred_at"] < as_of_end]
    events["age_days"] = (as_of_end - events["occurred_at"]).dt.total_seconds() / 86400.0
    events["event_rule"] = event_rules(events, rule_seed)
    return events


def _add_engagement_scores(
    leads: pd.DataFrame, events: pd.DataFrame, seeds: dict[str, pd.DataFrame], weights: pd.Series
) -> None:
    """engagement_points (decayed, capped per rule), event_score and engagement_score (level + events)."""
    points = seeds["engagement_event_points"].set_index("event_rule")
    rule_points = events["event_rule"].map(points["points"].astype(float)).fillna(0)
    worth = events[rule_points != 0].copy()
    worth["decayed"] = worth["event_rule"].map(points["points"].astype(float)) * 0.5 ** (
        worth["age_days"] / worth["event_rule"].map(points["half_life_days"].astype(float))
    )
    per_rule = worth.groupby(["lead_id", "event_rule"])["decayed"].sum().reset_index()
    caps = per_rule["event_rule"].map(points["cap_points"].astype(float))
    positive = per_rule["event_rule"].map(points["points"].astype(float)) > 0
    per_rule["capped"] = (
        per_rule["decayed"]
        .where(positive, per_rule["decayed"].clip(lower=caps))
        .where(~positive, per_rule["decayed"].clip(upper=caps))
    )
    leads["engagement_points"] = per_rule.groupby("lead_id")["capped"].sum().reindex(leads.index).fillna(0.0)
    event_score = (per_rule["capped"].round(6) * weights.get("engagement_points", 0.0)).round(6)
    leads["event_score"] = event_score.groupby(per_rule["lead_id"]).sum().reindex(leads.index).fillna(0.0)
    levels = _band_lookup(
        leads["engagement_points"],
        seeds["engagement_levels"],
        "min_engagement_points",
        "max_engagement_points",
        "points",
    )
    leads["engagement_score"] = levels.astype(float) * weights["engagement"] + leads["event_score"]


def _completed_orders(raw_orders: pd.DataFrame, as_of_end: pd.Timestamp) -> pd.DataFrame:
    orders = pd.DataFrame(
        {
            "lead_id": raw_orders["lead_id"].str.strip(),
            "ordered_at": _parse_ts(raw_orders["ordered_at"]),
            "amount": raw_orders["amount"].str.strip(),
            "currency": raw_orders["currency"].str.strip().str.upper(),
            "status": raw_orders["status"].str.strip().str.lower(),
        }
    )
    return orders[(orders["status"] == "completed") & (orders["ordered_at"] < as_of_end)]


def _add_days_since_activity(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    orders: pd.DataFrame,
    raw_leads: pd.DataFrame,
    seeds: dict[str, pd.DataFrame],
    as_of_end: pd.Timestamp,
) -> None:
    """Activity for the inactivity rule: an event a rule of a buying stage took, a completed order, the
    conversion."""
    points = seeds["engagement_event_points"].set_index("event_rule")
    staged = events["event_rule"].map(points["buying_stage"] != "none").fillna(False).astype(bool)
    converted_at = pd.Series(
        _parse_ts(raw_leads["converted_at"]).to_numpy(), index=raw_leads["lead_id"].str.strip()
    )
    activity_ages = pd.concat(
        [
            events.loc[staged, ["lead_id", "age_days"]],
            pd.DataFrame(
                {
                    "lead_id": orders["lead_id"],
                    "age_days": (as_of_end - orders["ordered_at"]).dt.total_seconds() / 86400.0,
                }
            ),
            _conversion_ages(converted_at, as_of_end),
        ]
    )
    leads["days_since_activity"] = activity_ages.groupby("lead_id")["age_days"].min().reindex(leads.index)


def _add_negative_scores(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    seeds: dict[str, pd.DataFrame],
    weights: pd.Series,
    as_of_end: pd.Timestamp,
) -> None:
    rules = seeds["negative_rules"].set_index("rule_key")["points"].astype(float)
    counts = (
        events.assign(
            unsub=events["event_type"] == "unsubscribe",
            hard=(events["event_type"] == "email_bounce") & events["is_hard_bounce"],
            sent=(events["event_type"] == "email_sent") & (events["age_days"] <= 90),
            opened=(events["event_type"] == "email_open") & (events["age_days"] <= 90),
        )
        .groupby("lead_id")[["unsub", "hard", "sent", "opened"]]
        .sum()
        .reindex(leads.index)
        .fillna(0)
    )
    domains = seeds["negative_email_domains"].set_index("email_domain")["rule_key"]
    inactive = ((as_of_end - leads["created_at"]).dt.total_seconds() / 86400.0 > 90) & (
        leads["days_since_activity"].isna() | (leads["days_since_activity"] > 90)
    )
    negative = (
        (counts["unsub"] >= 1) * rules["unsubscribed"]
        + (counts["hard"] >= 1) * rules["hard_bounce"]
        + leads["email_domain"].map(domains).map(rules).fillna(0.0)
        + leads["negative_property_points"]
        + inactive * rules["inactive"]
        + ((counts["sent"] >= 5) & (counts["opened"] < 0.1 * counts["sent"])) * rules["low_open_rate"]
    )
    leads["negative_score"] = negative * weights["negative"]


def _add_rfm_scores(
    leads: pd.DataFrame, orders: pd.DataFrame, seeds: dict[str, pd.DataFrame], weights: pd.Series, as_of: date
) -> None:
    """rfm_score: the points of the first RFM segment (by match_priority) each lead's R, F and M fall in."""
    rfm = rfm_scores(orders[orders["lead_id"].isin(leads.index)], seeds, as_of)
    rfm["points"] = float("nan")
    for segment in seeds["rfm_segments"].sort_values("match_priority").itertuples(index=False):
        hit = (
            rfm["points"].isna()
            & rfm["recency"].between(segment.min_r, segment.max_r)
            & rfm["frequency"].between(segment.min_f, segment.max_f)
            & rfm["monetary"].between(segment.min_m, segment.max_m)
        )
        rfm.loc[hit, "points"] = float(segment.points)
    leads["rfm_score"] = rfm["points"].reindex(leads.index).fillna(0.0) * weights["rfm"]


def score_with_pandas(
    raw: dict[str, pd.DataFrame], seeds: dict[str, pd.DataFrame], as_of: date
) -> pd.DataFrame:
    """The same totals in plain pandas, from raw text frames and the seed CSVs as frames."""
    as_of_end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    weights = seeds["score_weights"].set_index("component_key")["weight"].astype(float)
    leads, in_scope = _leads_in_scope(raw["leads"], as_of_end)
    _add_fit_scores(leads, raw["leads"][in_scope], seeds, weights)
    events = _events_in_scope(raw["events"], seeds["engagement_event_points"], as_of_end)
    _add_engagement_scores(leads, events, seeds, weights)
    orders = _completed_orders(raw["orders"], as_of_end)
    _add_days_since_activity(leads, events, orders, raw["leads"], seeds, as_of_end)
    _add_negative_scores(leads, events, seeds, weights, as_of_end)
    _add_rfm_scores(leads, orders, seeds, weights, as_of)
    leads["score_total"] = (
        leads["fit_score"] + leads["engagement_score"] + leads["negative_score"] + leads["rfm_score"]
    ).round(6)
    ranked = leads.reset_index().sort_values(
        ["score_total", "engagement_points", "fit_score", "lead_id"], ascending=[False, False, False, True]
    )
    ranked["lead_rank"] = range(1, len(ranked) + 1)
    return ranked[["lead_id", "score_total", "lead_rank"]].reset_index(drop=True)


def _conversion_ages(converted_at: pd.Series, as_of_end: pd.Timestamp) -> pd.DataFrame:
    """lead_id, age_days of each conversion before the end of the as-of date."""
    converted = converted_at[converted_at < as_of_end]
    return pd.DataFrame(
        {
            "lead_id": converted.index,
            "age_days": ((as_of_end - converted).dt.total_seconds() / 86400.0).to_numpy(),
        }
    )


def _json_text(properties: str | None, name: str) -> str | None:
    """A top-level key of a JSON text as DuckDB's json_extract_string gives it: strings as they are, numbers
    as Python writes them (2026, 1.5), booleans as true/false, arrays and objects as compact JSON, null or
    absent as None."""
    if properties is None or properties != properties:
        return None
    try:
        document = json.loads(properties)
    except ValueError:
        return None
    value = document.get(name) if isinstance(document, dict) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _found(pattern: re.Pattern[str], value: str | None) -> bool:
    return value is not None and pattern.search(value) is not None


def event_rules(events: pd.DataFrame, rules: pd.DataFrame) -> pd.Series:
    """The rule of engagement_event_points each event counts for (None when no rule takes it): the first
    rule of its type whose regular expression is found in its property (match_priority, empty last, then
    event_rule), else the type's rule without a property."""
    assigned = pd.Series(None, index=events.index, dtype=object)
    narrowed = rules[rules["property_name"].notna()].assign(
        priority=rules["match_priority"].fillna(2**31 - 1)
    )
    for rule in narrowed.sort_values(["priority", "event_rule"]).itertuples(index=False):
        candidates = assigned.isna() & (events["event_type"] == rule.event_type)
        values = events.loc[candidates, "properties"].map(partial(_json_text, name=rule.property_name))
        hits = values.map(partial(_found, re.compile(str(rule.match_values), re.IGNORECASE)))
        assigned[hits[hits].index] = rule.event_rule
    plain = rules[rules["property_name"].isna()].set_index("event_type")["event_rule"]
    return assigned.fillna(events["event_type"].map(plain))


def rfm_scores(orders: pd.DataFrame, seeds: dict[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """recency, frequency and monetary scores of each customer (completed orders of scored leads on or before
    the as-of date) from rfm_bands: value bands on the values, quantile bands on the share of customers with a
    strictly lower value, compared exactly (amounts in 1e-10 EUR, bounds in 1e-4)."""
    rates = seeds["fx_rates"].set_index("currency")["rate_to_eur"].astype(float)
    cents = (pd.to_numeric(orders["amount"]) * 100).round().astype("int64")
    rate_units = (orders["currency"].map(rates) * 1e8).round().astype("int64")
    orders = orders.assign(
        amount_eur=pd.to_numeric(orders["amount"]) * orders["currency"].map(rates),
        exact_eur=cents * rate_units,
    )
    rfm = orders.groupby("lead_id").agg(
        last=("ordered_at", "max"),
        n=("amount_eur", "size"),
        m=("amount_eur", "sum"),
        exact_m=("exact_eur", "sum"),
    )
    rfm["recency_days"] = (pd.Timestamp(as_of) - rfm["last"].dt.normalize()).dt.days
    bands = seeds["rfm_bands"]
    for dimension, column, ranked in (
        ("recency", "recency_days", "recency_days"),
        ("frequency", "n", "n"),
        ("monetary", "m", "exact_m"),
    ):
        own = bands[bands["rfm_dimension"] == dimension]
        if (own["bound_kind"] == "quantile").all():
            lower = (rfm[ranked].rank(method="min") - 1).astype("int64") * 10_000
            scaled = own.assign(
                min_value=(own["min_value"] * 10_000).round() * len(rfm),
                max_value=(own["max_value"] * 10_000).round() * len(rfm),
            )
            rfm[dimension] = _band_lookup(lower, scaled, "min_value", "max_value", "rfm_score").astype(int)
        else:
            rfm[dimension] = _band_lookup(
                rfm[column].astype(float), own, "min_value", "max_value", "rfm_score"
            ).astype(int)
    return rfm


# Seed columns that stay text even when every value reads as a number (a pattern such as 2026).
TEXT_SEED_COLUMNS = frozenset({"property_name", "match_values"})


def read_seed_frames(seeds_dir: Path) -> dict[str, pd.DataFrame]:
    """The seed CSVs as frames: empty cells null, all-numeric columns numeric (but TEXT_SEED_COLUMNS)."""
    frames = {}
    for path in seeds_dir.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        for column in frame.columns:
            if column in TEXT_SEED_COLUMNS:
                continue
            converted = pd.to_numeric(frame[column], errors="coerce")
            if converted.notna().sum() == frame[column].notna().sum():
                frame[column] = converted
        frames[path.stem] = frame
    return frames


def main(argv: list[str] | None = None) -> None:
    """`python -m orchestration.bench.reference_scoring floor|pandas WAREHOUSE AS_OF SEEDS_DIR` (bench)."""
    import os
    import resource
    import sys

    method, warehouse, as_of_text, seeds_dir = (argv or sys.argv[1:])[:4]
    if method == "pandas":
        # Guard the machine: a pandas run that needs more than this fails with MemoryError instead.
        limit = int(float(os.environ.get("LEADSCORE_PANDAS_MEMORY_GIB", "12")) * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    as_of = date.fromisoformat(as_of_text)
    # The build's DuckDB limits (profiles.yml's defaults and variables): the comparison is like for like.
    limits = {
        "memory_limit": os.environ.get("LEADSCORE_DUCKDB_MEMORY", "5GB"),
        "threads": int(os.environ.get("LEADSCORE_DUCKDB_THREADS", "2")),
    }
    with connect_read_only(warehouse, config=limits) as con:
        if method == "floor":
            result = score_with_floor_query(con, as_of)
        else:
            raw = {
                table: con.execute(f"select * from raw.{table}").df()
                for table in ("leads", "events", "orders")
            }
            result = score_with_pandas(raw, read_seed_frames(Path(seeds_dir)), as_of)
    print(f"{method}: {len(result):,} leads scored")


if __name__ == "__main__":
    main()
