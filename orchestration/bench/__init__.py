"""Benchmarks (`leadscore bench`): wall time and peak memory of the pipeline's steps against a hand-written
floor query and pandas. Never part of the test suite."""
