"""Map the UCI Bank Marketing data onto leadscore's raw contract (leads, events, orders) and write the split;
with --calibrate, run `leadscore calibrate` on it with the example's point tables (`make bank-example`).

    python examples/bank_marketing/prepare.py --out data/bank-marketing [--reference] [--calibrate DIR]

The file: 41,188 clients of a Portuguese bank called in direct-marketing campaigns (May 2008 - November 2010),
and whether each subscribed a term deposit (`y`). The mapping: docs/measuring-the-scoring.md (On real data).

* leads.csv: one lead per row (lead_id B00001 ... in file order), created on CREATED_AT; the client's job as
  `job_title`, the country PT; the other client attributes as extra columns (`age`, `marital`, `education`,
  `credit_default`, `housing_loan`, `personal_loan`, `contact_channel`); `unknown` becomes a blank value. A
  subscriber is a customer from 1 to 28 days after SCORE_DATE (`converted_at`), inside a 30-day window.
* events.csv: the contact history before SCORE_DATE: `campaign_call` x campaign (one a day, the last on
  SCORE_DATE), `previous_campaign_call` x previous (a week apart, the last `pdays` days before SCORE_DATE,
  or 180 days when pdays is 999), and one `previous_campaign_success` / `previous_campaign_failure` with the
  last of those. `duration` (known only after the call) and the day's economic context are left out.
* orders.csv: none (a header line): the data has no purchases.
* holdout_leads.txt: the lead ids of the reference figure's 30 % test split, made as the data's README says:
  `train_test_split(X, y, test_size=0.3, random_state=42, stratify=y)` over the rows in file order.

`--reference` also prints the reference figure measured here: a logistic regression with one-hot client
attributes and standardised age, campaign, pdays and previous, fitted on the 70 % (0.734 in the data's
README).
`--calibrate DIR` then scores the leads as of SCORE_DATE with the point tables of seeds/ beside this file (the
project's others), learns from the 70 % and measures on the 30 %: DIR/calibration.md.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).parent
SOURCE = HERE / "data" / "bank-additional-full.csv.gz"
SOURCE_SHA256 = "74adfc578bf77a7ff4bb1ba4a9f8709d9e3c6907342959c2c8416847e0afb4d8"  # of the unzipped CSV
CREATED_AT = datetime(2010, 1, 4, 9, 0, tzinfo=UTC)
SCORE_DATE = datetime(2010, 6, 30, tzinfo=UTC)
WINDOW_DAYS = 30
UNKNOWN_PREVIOUS_DAYS = 180  # pdays 999 with previous contacts: placed this many days before the score date
EXTRA_COLUMNS = {
    "age": "age",
    "marital": "marital",
    "education": "education",
    "default": "credit_default",
    "housing": "housing_loan",
    "loan": "personal_loan",
    "contact": "contact_channel",
}
LEAD_COLUMNS = (
    "lead_id",
    "email",
    "company_name",
    "industry",
    "employee_count",
    "annual_revenue",
    "country_code",
    "job_title",
    "lead_source",
    "created_at",
    "lifecycle_stage",
    "converted_at",
    *EXTRA_COLUMNS.values(),
)
CATEGORICAL = ["job", "marital", "education", "default", "housing", "loan", "contact", "poutcome"]
NUMERIC = ["age", "campaign", "pdays", "previous"]


def read_source() -> pd.DataFrame:
    """The CSV as text columns, in file order; its checksum must be the UCI file's."""
    raw = gzip.decompress(SOURCE.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{SOURCE}: sha256 {digest}, expected {SOURCE_SHA256} (not the UCI file)")
    return pd.read_csv(SOURCE, sep=";", dtype=str, keep_default_na=False)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def leads(data: pd.DataFrame) -> pd.DataFrame:
    lead_ids = [f"B{i:05d}" for i in range(1, len(data) + 1)]
    subscribed = data["y"] == "yes"
    converted = [
        _iso(SCORE_DATE + timedelta(days=1 + i % 28, hours=10)) if yes else ""
        for i, yes in enumerate(subscribed)
    ]
    frame = pd.DataFrame({column: "" for column in LEAD_COLUMNS}, index=data.index)
    frame["lead_id"] = lead_ids
    frame["country_code"] = "PT"
    frame["job_title"] = data["job"]
    frame["lead_source"] = "telemarketing"
    frame["created_at"] = _iso(CREATED_AT)
    frame["lifecycle_stage"] = "lead"
    frame["converted_at"] = converted
    for source, column in EXTRA_COLUMNS.items():
        frame[column] = data[source]
    return frame.replace("unknown", "")


def events(data: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for i, row in enumerate(data.itertuples(index=False), start=1):
        lead_id = f"B{i:05d}"
        for n in range(int(row.campaign)):
            at = SCORE_DATE - timedelta(days=n) + timedelta(hours=10)
            rows.append((f"{lead_id}-c{n + 1}", lead_id, "campaign_call", _iso(at)))
        days_back = UNKNOWN_PREVIOUS_DAYS if row.pdays == "999" else int(row.pdays)
        last = SCORE_DATE - timedelta(days=days_back) + timedelta(hours=11)
        for n in range(int(row.previous)):
            at = last - timedelta(days=7 * n)
            rows.append((f"{lead_id}-p{n + 1}", lead_id, "previous_campaign_call", _iso(at)))
        if row.poutcome in ("success", "failure"):
            rows.append((f"{lead_id}-o", lead_id, f"previous_campaign_{row.poutcome}", _iso(last)))
    frame = pd.DataFrame(rows, columns=["event_id", "lead_id", "event_type", "occurred_at"])
    frame["properties"] = "{}"
    return frame


def holdout(data: pd.DataFrame) -> list[str]:
    """The lead ids of the reference figure's test rows."""
    lead_ids = np.array([f"B{i:05d}" for i in range(1, len(data) + 1)])
    _, test_ids = train_test_split(lead_ids, test_size=0.3, random_state=42, stratify=data["y"])
    return sorted(test_ids)


def reference_auc(data: pd.DataFrame) -> float:
    """The data README's reference: one-hot client attributes, standardised numbers, a stratified 70/30
    split."""
    x = data[CATEGORICAL + NUMERIC].copy()
    x[NUMERIC] = x[NUMERIC].astype(float)
    y = (data["y"] == "yes").astype(int)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=42, stratify=y)
    model = make_pipeline(
        ColumnTransformer(
            [
                ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                ("numbers", StandardScaler(), NUMERIC),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    model.fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def write(out: Path, with_reference: bool) -> dict[str, object]:
    data = read_source()
    out.mkdir(parents=True, exist_ok=True)
    leads(data).to_csv(out / "leads.csv", index=False, quoting=csv.QUOTE_MINIMAL)
    events(data).to_csv(out / "events.csv", index=False, quoting=csv.QUOTE_MINIMAL)
    (out / "orders.csv").write_text("order_id,lead_id,ordered_at,amount,currency,status\n")
    held = holdout(data)
    (out / "holdout_leads.txt").write_text("\n".join(held) + "\n")
    summary: dict[str, object] = {
        "leads": len(data),
        "subscribed": int((data["y"] == "yes").sum()),
        "held_out_leads": len(held),
        "score_date": SCORE_DATE.date().isoformat(),
        "window_days": WINDOW_DAYS,
        "as_of": (SCORE_DATE + timedelta(days=WINDOW_DAYS)).date().isoformat(),
    }
    if with_reference:
        summary["reference_roc_auc"] = round(reference_auc(data), 4)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def calibrate(data_dir: Path, out: Path) -> None:
    """`leadscore calibrate` on the export, the example's point tables and the reference split."""
    day = SCORE_DATE.date().isoformat()
    command = [str(Path(sys.executable).with_name("leadscore")), "calibrate", "--data", str(data_dir)]
    command += ["--seeds", str(HERE / "seeds"), "--from", day, "--to", day, "--window", str(WINDOW_DAYS)]
    command += ["--holdout-leads", str(data_dir / "holdout_leads.txt"), "--out", str(out)]
    subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="Export folder to write.")
    parser.add_argument("--reference", action="store_true", help="Also measure the reference regression.")
    parser.add_argument("--calibrate", type=Path, default=None, help="Then calibrate into this folder.")
    args = parser.parse_args()
    summary = write(args.out, args.reference)
    print(json.dumps(summary))
    if args.calibrate is not None:
        calibrate(args.out, args.calibrate)


if __name__ == "__main__":
    main()
