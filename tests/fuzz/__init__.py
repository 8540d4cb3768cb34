"""Reliability fuzzing helpers (run in child processes by tests/test_reliability_*.py)."""
