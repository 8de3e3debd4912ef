"""The audit step of write-audit-publish: the Great Expectations suites (quality.py) and the checks against
the last published build (publish_guards.py)."""
