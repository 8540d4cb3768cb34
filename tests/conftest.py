"""Shared pytest configuration: hypothesis profiles and small fixtures.

Profiles (select with the environment variable ``HYPOTHESIS_PROFILE``; default ``ci``):

* ``ci``: bounded example counts, no deadline (the twin is slow by design and CI
  machines are noisy), no "too slow" health checks;
* ``dev``: a quick smoke run;
* ``thorough``: many examples, for a local hunt.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=_QUIET,
                          print_blob=True)
settings.register_profile("dev", max_examples=8, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator (tests that need randomness stay reproducible)."""
    return np.random.default_rng(20240601)
