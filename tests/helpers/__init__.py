"""Shared test helpers (no tests here).

* :mod:`tests.helpers.reference` -- the slow pure-NumPy twin of the library semantics;
* :mod:`tests.helpers.strategies` -- hypothesis strategies for stacks and rejectors;
* :mod:`tests.helpers.twin` -- NumPy references, the package adapter and the comparisons
  the twin tests share;
* :mod:`tests.helpers.iraf_cases` -- the stored real-IRAF reference cases;
* :mod:`tests.helpers.child` -- running code in a child interpreter (a crash fails a test);
* :mod:`tests.helpers.slurm` -- a real single-node SLURM cluster (munged, slurmctld, slurmd)
  and the ``SLURMCluster`` the SLURM tests start on it;
* :mod:`tests.helpers.slurm_checks` -- data, bit-for-bit checks and fault helpers of the
  SLURM tests (imported by the SLURM workers too);
* :mod:`tests.helpers.fits_quirks` -- small FITS files with real instruments' quirks;
* :mod:`tests.helpers.iraf_files` -- real IRAF run on FITS files as they are.
"""
