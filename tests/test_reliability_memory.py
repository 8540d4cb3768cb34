"""Memory ceilings: in-memory calls that cannot fit fail fast; memory_limit is honoured.

* A stack whose in-memory combine needs more than the available RAM raises
  ``InsufficientMemoryError`` (a ``MemoryError`` pointing to ``imcombiners.dask.combine``)
  before allocating: no swapping, no OOM kill, no abort in Rust.  The stacks here have
  no memory behind them (``np.broadcast_to``, lists of broadcast frames, a sparse file
  mapped read-only), so the test never uses the RAM it talks about.
* ``imcombiners.dask.combine(..., memory_limit=L)`` keeps the peak RSS of the process
  under L for a stack larger than L (child process, ``VmHWM``: ``ru_maxrss`` is kept
  across ``execve`` on Linux and would include the forked parent's resident set).
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from tests.helpers.child import assert_clean_exit, run_python
from tests.helpers.twin import require_package

require_package()

import imcombiners as imc  # noqa: E402
import imcombiners.kernels as imck  # noqa: E402

psutil = pytest.importorskip("psutil")

#: a stack of ~6 TiB that occupies no memory (stride-0 views)
HUGE = np.broadcast_to(np.float32(1), (100_000, 4096, 4096))


def _rss() -> int:
    return psutil.Process().memory_info().rss


ENTRY_POINTS = {
    "Combiner.combine": lambda s: imc.Combiner(s).combine("mean"),
    "Combiner.combine full": lambda s: imc.Combiner(s).combine("median", diagnostics="full"),
    "ndcombine": lambda s: imc.ndcombine(s, reject="sigclip"),
    "kernels.mean": lambda s: imck.mean(s),
    "kernels.sigclip": lambda s: imck.sigclip(s),
    "kernels.minmax_combine": lambda s: imck.minmax_combine(s),
    "imcombine": lambda s: imc.imcombine(s, reject="ccdclip"),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("form", ["array", "list"])
def test_stack_that_cannot_fit_fails_fast(entry, form):
    stack = HUGE if form == "array" else [HUGE[0]] * HUGE.shape[0]
    before, t0 = _rss(), time.perf_counter()
    with pytest.raises(imc.InsufficientMemoryError, match=r"imcombiners\.dask\.combine") as info:
        ENTRY_POINTS[entry](stack)
    assert isinstance(info.value, MemoryError)
    assert time.perf_counter() - t0 < 10
    assert _rss() - before < 64 << 20  # nothing big was allocated on the way


SPARSE_CHILD = """
import json, resource, sys
import numpy as np
# safety net: if a guard is missing, the allocation fails (an abort, i.e. a test failure)
# instead of pushing the machine into swap or the OOM killer
resource.setrlimit(resource.RLIMIT_DATA, (4 << 30, 4 << 30))
import imcombiners as imc
path, n, ny, nx, which = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
stack = np.memmap(path, dtype=np.uint8, mode="r", shape=(n, ny, nx))  # contiguous: no conversion copy
calls = {
    "full": lambda: imc.Combiner(stack).combine("mean", diagnostics="full"),
    "grow": lambda: imc.ndcombine(stack, reject="sigclip", grow=1),
    "imcombine": lambda: imc.imcombine(stack, reject="sigclip", products="all"),
}
try:
    calls[which]()
except imc.InsufficientMemoryError as exc:
    print(json.dumps({"raised": str(exc)}))
else:
    print(json.dumps({"raised": None}))
"""


@pytest.mark.parametrize("which", ["full", "grow", "imcombine"])
def test_products_that_cannot_fit_fail_fast_without_abort(which, tmp_path):
    """Per-sample products (masks, flags, IRAF's rejmask) of a real contiguous stack
    (a sparse file: no disk, no RAM) exceed RAM: an exception, not a Rust abort.
    (imcombine used to abort with 'memory allocation of N bytes failed'.)"""
    ny = nx = 5000
    n = int(math.ceil(2 * psutil.virtual_memory().available / (ny * nx)))  # N*M bytes = 2x free RAM
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as f:
        f.truncate(n * ny * nx)
    proc = run_python(SPARSE_CHILD, args=[str(path), str(n), str(ny), str(nx), which], timeout=120)
    assert_clean_exit(proc, f"{which} on a stack whose products exceed RAM")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["raised"] and "imcombiners.dask.combine" in got["raised"], got


MEMORY_CHILD = """
import json, resource, sys, glob
import numpy as np
import imcombiners as imc, imcombiners.dask as imd
d, limit, mode = sys.argv[1], sys.argv[2], sys.argv[3]
paths = sorted(glob.glob(d + "/m*.fits"))
lazy = imd.combine(paths, "median", rejectors=imc.SigClip(), diagnostics=["nused"], memory_limit=limit)
if mode == "compute":
    res = lazy.compute()
    np.save(d + "/rows.npy", res.data[[0, 500, 1023]])
else:
    lazy.to_fits(d + "/out.fits", overwrite=True)

def peak_rss():
    # VmHWM belongs to this process image; ru_maxrss survives execve and would include
    # the (forked) parent's resident set, i.e. pytest's
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


print(json.dumps({"peak": peak_rss(), "predicted": lazy.plan.predicted_peak, "summary": lazy.plan.summary()}))
"""


@pytest.fixture(scope="module")
def stack_192mib(tmp_path_factory):
    from imcombiners.io.fits import HduSpec, create_fits

    d = tmp_path_factory.mktemp("memlimit")
    rng = np.random.default_rng(21)
    base = rng.normal(1000, 20, (1024, 1024)).astype(np.float32)
    for i in range(48):  # 48 x 4 MiB = 192 MiB of float32 pixels
        p = str(d / f"m{i:02d}.fits")
        target = create_fits(p, [HduSpec("PRIMARY", (1024, 1024), np.float32)])["PRIMARY"]
        frame = base + np.float32(i % 7)
        frame[(i * 37) % 1024, :: 50] = 1e5  # a few outliers for the clipping
        with open(p, "r+b") as f:
            f.seek(target.offset)
            f.write(frame.astype(">f4").tobytes())
    return d


@pytest.mark.parametrize("mode", ["compute", "to_fits"])
def test_memory_limit_is_honoured(stack_192mib, mode):
    import dask.utils

    limit = "180MB"  # below the 192 MiB stack
    proc = run_python(MEMORY_CHILD, args=[str(stack_192mib), limit, mode], timeout=180)
    assert_clean_exit(proc, "memory-limited combine")
    rep = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rep["peak"] <= dask.utils.parse_bytes(limit), rep
    from astropy.io import fits

    paths = sorted(stack_192mib.glob("m*.fits"))
    rows = np.stack([fits.getdata(p)[[0, 500, 1023]] for p in paths])
    want = imc.Combiner(rows).combine("median", rejectors=imc.SigClip())
    if mode == "compute":
        got = np.load(stack_192mib / "rows.npy")
    else:
        got = fits.getdata(stack_192mib / "out.fits")[[0, 500, 1023]]
    np.testing.assert_array_equal(got, want)


def test_memory_limit_below_one_row_is_a_clear_error():
    import imcombiners.dask as imd

    x = np.zeros((64, 8, 4096), np.float32)
    with pytest.raises(MemoryError, match="memory_limit"):
        imd.combine(x, "median", memory_limit="1MB")
    with pytest.raises(ValueError, match="memory_limit"):
        imd.combine(x, "median", memory_limit="lots")
