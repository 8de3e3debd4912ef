"""Two independent implementations of the lead-score totals, for benchmarks and cross-checks.

- `FLOOR_SQL`: one hand-written DuckDB query over the raw tables and the point tables (the speed floor a
  dbt build is measured against).
- `score_with_pandas`: what a user would otherwise write: a straightforward pandas implementation.

Both assume clean raw data (no contract-breaking rows; the dbt models reject those) and the default rule
semantics of the models: fit (industry, size band, zone, job role), engagement decayed per event, capped
per type, banded into a level; negative rules; RFM segment; total = sum of weight x points; rank by total,
engagement points, fit score, lead id.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

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


def score_with_pandas(
    raw: dict[str, pd.DataFrame], seeds: dict[str, pd.DataFrame], as_of: date
) -> pd.DataFrame:
    """The same totals in plain pandas, from raw text frames and the seed CSVs as frames."""
    as_of_end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    weights = seeds["score_weights"].set_index("component_key")["weight"].astype(float)

    def parse_ts(column: pd.Series) -> pd.Series:
        return pd.to_datetime(column, utc=True, format="ISO8601").dt.tz_localize(None)

    leads = pd.DataFrame(
        {
            "lead_id": raw["leads"]["lead_id"].str.strip(),
            "email_domain": raw["leads"]["email"].str.strip().str.lower().str.split("@").str[1],
            "industry_key": raw["leads"]["industry"].str.strip().str.lower().replace("", None),
            "employee_count": pd.to_numeric(raw["leads"]["employee_count"], errors="coerce"),
            "country_code": raw["leads"]["country_code"].str.strip().str.upper(),
            "title": " " + raw["leads"]["job_title"].fillna("").str.strip().str.lower() + " ",
            "created_at": parse_ts(raw["leads"]["created_at"]),
        }
    )
    leads = leads[leads["created_at"] < as_of_end].set_index("lead_id")

    industry = seeds["fit_industry_points"].set_index("industry_key")["points"].astype(float)
    leads["industry_points"] = leads["industry_key"].map(industry).fillna(industry["other"])
    leads["size_points"] = (
        _band_lookup(
            leads["employee_count"],
            seeds["fit_company_size_bands"],
            "min_employees",
            "max_employees",
            "points",
        )
        .astype(float)
        .fillna(0.0)
    )
    zones = seeds["fit_geo_zones"].set_index("country_code")["zone_key"]
    zone_points = seeds["fit_zone_points"].set_index("zone_key")["points"].astype(float)
    leads["geo_points"] = leads["country_code"].map(zones).fillna("outside").map(zone_points)
    leads["role_points"], leads["seniority"] = 0.0, None
    matched = pd.Series(False, index=leads.index)
    for role in seeds["fit_job_roles"].sort_values(["match_priority", "role_key"]).itertuples(index=False):
        regex = (
            "^"
            + "".join(".*" if ch == "%" else "." if ch == "_" else f"[{ch}]" for ch in role.title_pattern)
            + "$"
        )
        hit = ~matched & leads["title"].str.match(regex)
        leads.loc[hit, "role_points"] = float(role.points)
        leads.loc[hit, "seniority"] = role.seniority
        matched |= hit

    events = pd.DataFrame(
        {
            "lead_id": raw["events"]["lead_id"].str.strip(),
            "event_type": raw["events"]["event_type"].str.strip().str.lower(),
            "occurred_at": parse_ts(raw["events"]["occurred_at"]),
            "is_hard_bounce": raw["events"]["properties"].str.contains('"bounce_type": "hard"', regex=False),
        }
    )
    events = events[events["occurred_at"] < as_of_end]
    events["age_days"] = (as_of_end - events["occurred_at"]).dt.total_seconds() / 86400.0
    points = seeds["engagement_event_points"].set_index("event_type")
    worth = events[events["event_type"].map(points["points"].astype(float)).fillna(0) > 0].copy()
    worth["decayed"] = worth["event_type"].map(points["points"].astype(float)) * 0.5 ** (
        worth["age_days"] / worth["event_type"].map(points["half_life_days"].astype(float))
    )
    per_type = worth.groupby(["lead_id", "event_type"])["decayed"].sum().reset_index()
    per_type["capped"] = per_type["decayed"].clip(
        upper=per_type["event_type"].map(points["cap_points"].astype(float))
    )
    leads["engagement_points"] = per_type.groupby("lead_id")["capped"].sum().reindex(leads.index).fillna(0.0)
    leads["days_since_activity"] = worth.groupby("lead_id")["age_days"].min().reindex(leads.index)
    levels = _band_lookup(
        leads["engagement_points"],
        seeds["engagement_levels"],
        "min_engagement_points",
        "max_engagement_points",
        "points",
    )
    leads["engagement_score"] = levels.astype(float) * weights["engagement"]

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
    negative = (
        (counts["unsub"] >= 1) * rules["unsubscribed"]
        + (counts["hard"] >= 1) * rules["hard_bounce"]
        + leads["email_domain"].map(domains).map(rules).fillna(0.0)
        + (leads["seniority"] == "student") * rules["student_title"]
        + (
            ((as_of_end - leads["created_at"]).dt.total_seconds() / 86400.0 > 90)
            & (leads["days_since_activity"].isna() | (leads["days_since_activity"] > 90))
        )
        * rules["inactive"]
        + ((counts["sent"] >= 5) & (counts["opened"] < 0.1 * counts["sent"])) * rules["low_open_rate"]
    )
    leads["negative_score"] = negative * weights["negative"]

    orders = raw["orders"]
    orders = pd.DataFrame(
        {
            "lead_id": orders["lead_id"].str.strip(),
            "ordered_at": parse_ts(orders["ordered_at"]),
            "amount_eur": pd.to_numeric(orders["amount"])
            * orders["currency"]
            .str.strip()
            .str.upper()
            .map(seeds["fx_rates"].set_index("currency")["rate_to_eur"].astype(float)),
            "status": orders["status"].str.strip().str.lower(),
        }
    )
    orders = orders[(orders["status"] == "completed") & (orders["ordered_at"] < as_of_end)]
    rfm = orders.groupby("lead_id").agg(
        last=("ordered_at", "max"), n=("amount_eur", "size"), m=("amount_eur", "sum")
    )
    rfm["recency_days"] = (pd.Timestamp(as_of) - rfm["last"].dt.normalize()).dt.days
    bands = seeds["rfm_bands"]
    for dimension, column in (("recency", "recency_days"), ("frequency", "n"), ("monetary", "m")):
        rfm[dimension] = _band_lookup(
            rfm[column].astype(float),
            bands[bands["rfm_dimension"] == dimension],
            "min_value",
            "max_value",
            "rfm_score",
        ).astype(int)
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

    leads["fit_score"] = (
        leads["industry_points"] * weights["industry"]
        + leads["size_points"] * weights["company_size"]
        + leads["geo_points"] * weights["geography"]
        + leads["role_points"] * weights["job_role"]
    )
    leads["score_total"] = (
        leads["fit_score"] + leads["engagement_score"] + leads["negative_score"] + leads["rfm_score"]
    ).round(6)
    ranked = leads.reset_index().sort_values(
        ["score_total", "engagement_points", "fit_score", "lead_id"], ascending=[False, False, False, True]
    )
    ranked["lead_rank"] = range(1, len(ranked) + 1)
    return ranked[["lead_id", "score_total", "lead_rank"]].reset_index(drop=True)


def read_seed_frames(seeds_dir: Path) -> dict[str, pd.DataFrame]:
    """The seed CSVs as frames: empty cells null, all-numeric columns numeric."""
    frames = {}
    for path in seeds_dir.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        for column in frame.columns:
            converted = pd.to_numeric(frame[column], errors="coerce")
            if converted.notna().sum() == frame[column].notna().sum():
                frame[column] = converted
        frames[path.stem] = frame
    return frames


def main(argv: list[str] | None = None) -> None:
    """`python -m orchestration.reference_scoring floor|pandas WAREHOUSE AS_OF SEEDS_DIR` (used by bench)."""
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
    with duckdb.connect(warehouse, read_only=True, config=limits) as con:
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
