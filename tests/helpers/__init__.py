"""Shared test helpers (no tests here).

* :mod:`tests.helpers.reference` -- the slow pure-NumPy twin of the library semantics;
* :mod:`tests.helpers.strategies` -- hypothesis strategies for stacks and rejectors;
* :mod:`tests.helpers.twin` -- NumPy references, the package adapter and the comparisons
  the twin tests share;
* :mod:`tests.helpers.iraf_cases` -- the stored real-IRAF reference cases;
* :mod:`tests.helpers.child` -- running code in a child interpreter (a crash fails a test).
"""
