"""`leadscore calibrate`: learn the whole point model from conversions and propose it as complete seed CSVs.

The steps, one module each:

* `dataset`: score the leads as of past dates in a throw-away copy of the project and warehouse (the
  backtest), and read back the lead-dates, who converted in the window after each, and what the engine saw:
  every lead property (folded as the rules fold it), the property rules that fired, each event rule's decayed
  count, the negative rules that fired;
* `features`: encode them as the engine can score them: per property, categories learned from the data (a
  minimum support, rare values pooled into `otherwise`, blank kept apart, the current pattern and list rules
  kept for the values they catch) or quantile bands of a numeric property; per event rule, its decayed count
  capped where the data stops rising; per negative rule, whether it fired;
* `model`: a regularised logistic regression (scikit-learn, penalty chosen by cross-validation on the
  training leads, folds grouped by lead);
* `proposal`: coefficients into points on the current score scale (negative where the data says so), rules,
  weights, grade bands, tiers by the conversion rate they must reach and the MQL threshold, as seed CSVs that
  pass every seed test;
* `report`: ROC AUC of the current tables, the proposed tables (re-scored by the real build) and the plain
  regression (the ceiling) on held-out leads, a calibration table, conversion by proposed tier, how to adopt.
"""

from orchestration.analysis.calibration.run import CalibrateOptions, CalibrationError, calibrate

__all__ = ["CalibrateOptions", "CalibrationError", "calibrate"]
