"""What calibration learns from: the lead-dates of a backtest in a scored sandbox warehouse, and what the
engine saw of each lead on each date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.warehouse import connect_read_only

OBSERVATIONS = "intermediate.int_backtest_observations"
PROPERTIES = "staging.stg_raw__lead_properties"
FIRED_RULES = "intermediate.int_leads_properties_scored"
# Events of a type with property rules read their properties from staging (by lineage), as the engine does.
STAGED_JOIN = """
    inner join staging.stg_raw__events as staged
        on e.source_file = staged.source_file and e.source_line = staged.source_line
        and e.loaded_at = staged.loaded_at
"""


class CalibrationError(Exception):
    """Calibration could not run; the message says what is missing."""


@dataclass
class Backtest:
    """The lead-dates of one scoring version's backtest and the engine's view of them."""

    observations: pd.DataFrame  # lead_id, score_date, converted (0/1), score_total, negative_rules
    properties: pd.DataFrame  # lead_id, property_name, folded_value (one row per lead and property)
    fired: pd.DataFrame  # lead_id, property_name, dimension_key, rule_key: the property rules that fired
    events: pd.DataFrame  # lead_id, score_date, event_rule, decayed_count
    scoring_version: str
    window_days: int

    @property
    def score_dates(self) -> list[date]:
        return sorted({pd.Timestamp(d).date() for d in self.observations["score_date"].unique()})


def read_backtest(warehouse: Path, version: str, event_rules: pd.DataFrame) -> Backtest:
    """Read a scored sandbox warehouse. event_rules: engagement_event_points (every rule: each event counts
    for the rule the engine gives it, reference_scoring.event_rules, a type's rules go together)."""
    with connect_read_only(warehouse) as con:
        summary = con.execute(
            "select window_days from marts.backtest_summary where scoring_version = ?", [version]
        ).fetchone()
        if summary is None:
            raise CalibrationError(
                f"the backtest of scoring model {version} measured no score date: every date's window must "
                "end by the observation date (--as-of)"
            )
        observations = con.execute(
            f"""
            select obs.lead_id, obs.score_date, cast(obs.converted_in_window as integer) as converted,
                cast(obs.score_total as double) as score_total,
                coalesce(history.negative_rules, '') as negative_rules
            from {OBSERVATIONS} as obs
            inner join history.lead_score_history as history
                on obs.lead_id = history.lead_id and obs.score_date = history.score_date
                and obs.scoring_version = history.scoring_version
            where obs.scoring_version = ?
            order by obs.lead_id, obs.score_date
            """,
            [version],
        ).df()
        con.register("observed", observations[["lead_id", "score_date"]])
        properties = con.execute(
            f"""
            select props.lead_id, props.property_name,
                case when props.property_name = 'country_code' then lower(leads.country_code)
                    else props.folded_value end as folded_value
            from {PROPERTIES} as props
            inner join intermediate.int_leads_validated as leads
                on props.lead_id = leads.lead_id and props.source_file = leads.source_file
                and props.source_line = leads.source_line and props.loaded_at = leads.loaded_at
                and leads.reject_reason is null
            where props.lead_id in (select lead_id from observed)
            """
        ).df()
        fired = con.execute(f"select lead_id, property_name, dimension_key, rule_key from {FIRED_RULES}").df()
        events = _ruled_events(con, event_rules)
        con.register("ruled_events", events)
        con.register("counted_rules", event_rules[["event_rule", "half_life_days"]])
        events = con.execute(
            """
            with dates as (select distinct lead_id, cast(score_date as date) as score_date from observed)
            select dates.lead_id, dates.score_date, e.event_rule,
                sum(power(0.5, (epoch(cast(dates.score_date + 1 as timestamp)) - epoch(e.occurred_at))
                    / 86400.0 / cast(rules.half_life_days as double))) as decayed_count
            from dates
            join ruled_events as e
                on e.lead_id = dates.lead_id and e.occurred_at < cast(dates.score_date + 1 as timestamp)
            join counted_rules as rules on e.event_rule = rules.event_rule
            group by all
            """
        ).df()
    if observations.empty:
        raise CalibrationError(f"the backtest of scoring model {version} has no lead-date to learn from")
    return Backtest(
        observations=observations,
        properties=properties,
        fired=fired,
        events=events,
        scoring_version=version,
        window_days=int(summary[0]),
    )


def _ruled_events(con: duckdb.DuckDBPyConnection, rules: pd.DataFrame) -> pd.DataFrame:
    """lead_id, occurred_at and event_rule of the observed leads' accepted events of the rules' types; the
    properties (from staging) are read only for the types that have property rules."""
    from orchestration.bench.reference_scoring import event_rules

    con.register("rule_types", rules[["event_type", "property_name"]])
    accepted = """
        from intermediate.int_events_validated as e {join}
        where e.reject_reason is null and e.lead_id in (select lead_id from observed)
            and e.event_type in (select event_type from rule_types {having})
    """
    narrowed = "where property_name <> ''"
    events = con.execute(
        f"""
        select e.lead_id, e.event_type, e.occurred_at, cast(null as varchar) as properties
        {accepted.format(join="", having="")}
            and e.event_type not in (select event_type from rule_types {narrowed})
        union all
        select e.lead_id, e.event_type, e.occurred_at, staged.properties
        {accepted.format(join=STAGED_JOIN, having=narrowed)}
        """
    ).df()
    seed = rules.replace("", None).assign(match_priority=lambda r: pd.to_numeric(r["match_priority"]))
    events["event_rule"] = event_rules(events, seed)
    return events.dropna(subset=["event_rule"])[["lead_id", "occurred_at", "event_rule"]]
