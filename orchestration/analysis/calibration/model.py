"""The regression behind a calibration (scikit-learn), the held-out split and the ROC AUC."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from orchestration.analysis.calibration.features import Design

C_GRID = np.logspace(-4, 2, 13)  # inverse penalties tried by cross-validation
FOLDS = 5


@dataclass
class Fitted:
    """Coefficients per feature (log-odds per unit) and the intercept of the chosen regression."""

    coefficients: dict[str, float]
    intercept: float
    inverse_penalty: float
    model: LogisticRegression

    def predict(self, design: Design) -> np.ndarray:
        """The probability of conversion of every lead-date of the design."""
        return self.model.predict_proba(design.x)[:, 1]


def fit(design: Design, train: np.ndarray) -> Fitted:
    """An L2-regularised logistic regression on the training lead-dates. The penalty is chosen by
    cross-validated log-loss over folds that keep each lead's dates together, with the one-standard-error
    rule: the strongest penalty whose mean score is within one standard error of the best one (a few hundred
    conversions and a hundred categories overfit at the best score's penalty)."""
    x, y, groups = design.x[train], design.y[train], design.lead_ids[train]
    folds = min(FOLDS, len(set(groups)))
    splits = list(GroupKFold(n_splits=folds).split(x, y, groups))
    search = LogisticRegressionCV(
        Cs=C_GRID,
        l1_ratios=(0.0,),
        cv=splits,
        scoring="neg_log_loss",
        max_iter=5000,
        use_legacy_attributes=False,
    )
    search.fit(x, y)
    inverse_penalty = one_standard_error_choice(
        search.Cs_, np.asarray(search.scores_).reshape(len(splits), -1)
    )
    model = LogisticRegression(C=inverse_penalty, l1_ratio=0.0, max_iter=5000).fit(x, y)
    return Fitted(
        coefficients=dict(zip(design.columns, (float(c) for c in model.coef_[0]), strict=True)),
        intercept=float(model.intercept_[0]),
        inverse_penalty=float(inverse_penalty),
        model=model,
    )


def one_standard_error_choice(inverse_penalties: np.ndarray, scores: np.ndarray) -> float:
    """The smallest C (strongest penalty) whose mean cross-validated score (folds x Cs, higher is better) is
    within one standard error of the best mean."""
    means = scores.mean(axis=0)
    best = int(np.argmax(means))
    error = scores[:, best].std(ddof=1) / np.sqrt(scores.shape[0]) if scores.shape[0] > 1 else 0.0
    eligible = np.nonzero(means >= means[best] - error)[0]
    return float(inverse_penalties[eligible[np.argmin(inverse_penalties[eligible])]])


def roc_auc(scores: np.ndarray | pd.Series, outcomes: np.ndarray | pd.Series) -> float | None:
    """ROC AUC (ties count half); None without both outcomes."""
    outcomes = np.asarray(outcomes).astype(bool)
    if outcomes.all() or not outcomes.any():
        return None
    return float(roc_auc_score(outcomes, np.asarray(scores, dtype=float)))


def hashed_holdout(lead_ids: pd.Series, fraction: float) -> np.ndarray:
    """True for the lead-dates of held-out leads: a stable hash of lead_id picks `fraction` of the leads."""
    if fraction <= 0:
        return np.zeros(len(lead_ids), dtype=bool)

    def bucket(lead_id: str) -> float:
        return int(hashlib.sha256(lead_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    return lead_ids.map(bucket).to_numpy() < fraction
