"""Hypothesis fuzzing of the public entry points, run in a child interpreter
(``python -m tests.fuzz.fuzz_api``) by tests/test_reliability_fuzz.py."""
