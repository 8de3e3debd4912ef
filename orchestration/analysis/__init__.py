"""Measuring the scoring: backtests, the impact of a point-table change, calibration from conversions, and
the HTML report, each scored in a throw-away sandbox where needed."""
