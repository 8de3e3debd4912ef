"""Superset's configuration for the lead-scoring dashboard (`make superset`; see docs/bi.md).

Superset runs in its own virtual environment (.superset/venv) with its metadata (users, the imported
dashboard) in SUPERSET_HOME (.superset/home by default): a SQLite file and the secret key made at setup.
"""

import os
from pathlib import Path

_HOME = Path(os.environ["SUPERSET_HOME"])

SECRET_KEY = (_HOME / "secret_key").read_text(encoding="utf-8").strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}"

# No cache of chart data or metadata: every chart query opens the served DuckDB file anew (Superset gives each
# query its own connection), so the dashboard shows a new build at its next refresh after a publish.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

# One local process: the login rate limiter keeps its counts in memory.
RATELIMIT_STORAGE_URI = "memory://"
