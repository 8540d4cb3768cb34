"""The Python/Rust boundary: a panic becomes an exception, malformed calls never crash.

Everything that could take the interpreter down (an escaped panic aborts, a failed
allocation in Rust aborts, a bad pointer segfaults) runs in a child process
(:mod:`fuzz.child`), so a crash is reported as a failure with its signal.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers.child import assert_clean_exit, run_python

pytest.importorskip("imcombiners._core", reason="imcombiners._core is not built")


def test_panic_is_caught_at_the_boundary_and_the_process_survives():
    proc = run_python(
        """
        import numpy as np
        import imcombiners._core as core
        for _ in range(3):
            try:
                core._panic_for_tests()
            except RuntimeError as exc:
                assert "internal error" in str(exc), exc
            else:
                raise SystemExit("no exception")
        # the module still works after the panics (no poisoned state)
        out = core.run([np.arange(4.0), np.arange(4.0) + 2], None, {"method": "mean"}, 0)
        assert np.array_equal(out["data"], np.arange(4.0) + 1)
        print("ok")
        """,
        timeout=60,
    )
    assert_clean_exit(proc, "panic boundary")
    assert proc.stdout.strip().endswith("ok")


# Malformed calls of the private kernel API (the public layer validates before it gets
# here; the kernel re-checks). Each must raise, none may crash.
MALFORMED = {
    "mask length": "core.run([f(3)], [np.zeros(2, bool)], {'method': 'mean'}, 0)",
    "frame lengths": "core.run([f(3), f(4)], None, {'method': 'mean'}, 0)",
    "int64 frame": "core.run([np.zeros(3, np.int64)], None, {'method': 'mean'}, 0)",
    "2-D frame": "core.run([np.zeros((3, 3))], None, {'method': 'mean'}, 0)",
    "strided frame": "core.run([np.zeros(6)[::2]], None, {'method': 'mean'}, 0)",
    "mixed dtypes": "core.run([f(3), np.zeros(3, np.float32)], None, {'method': 'mean'}, 0)",
    "no frame": "core.run([], None, {'method': 'mean'}, 0)",
    "frames not a list": "core.run('abc', None, {'method': 'mean'}, 0)",
    "job not a dict": "core.run([f(3)], None, 'mean', 0)",
    "bad method": "core.run([f(3)], None, {'method': 'bogus'}, 0)",
    "bad rejector kind": "core.run([f(3)], None, {'method': 'mean', 'rejectors': [{'kind': 'zzz'}]}, 0)",
    "negative sigma": "core.run([f(3)], None, {'method': 'mean', 'rejectors': [{'kind': 'sigclip', 'sigma_lo': -1}]}, 0)",
    "huge maxiters": "core.run([f(3)], None, {'method': 'mean', 'rejectors': [{'kind': 'sigclip', 'maxiters': 10**12}]}, 0)",
    "zero gain": "core.run([f(3)], None, {'method': 'mean', 'rejectors': [{'kind': 'ccdclip', 'gain': 0.0}]}, 0)",
    "zero pclip": "core.run([f(3)], None, {'method': 'mean', 'rejectors': [{'kind': 'pclip', 'frac': 0.0}]}, 0)",
    "zero scale": "core.run([f(3)], None, {'method': 'mean', 'scale': [0.0]}, 0)",
    "nan scale": "core.run([f(3)], None, {'method': 'mean', 'scale': [float('nan')]}, 0)",
    "zero length": "core.run([f(3)], None, {'method': 'mean', 'zero': [1.0, 2.0]}, 0)",
    "quantile 5": "core.run([f(3)], None, {'method': 'quantile', 'q': 5.0}, 0)",
    "wavg no weights": "core.run([f(3)], None, {'method': 'wavg'}, 0)",
    "ddof -1": "core.run([f(3)], None, {'method': 'variance', 'ddof': -1}, 0)",
    "reversed thresholds": "core.run([f(3)], None, {'method': 'mean', 'thresholds': (5, 1)}, 0)",
    "unknown want": "core.run([f(3)], None, {'method': 'mean', 'want': ['nope']}, 0)",
    "negative threads": "core.run([f(3)], None, {'method': 'mean'}, -1)",
    "70000 frames": "core.run([f(2)] * 70000, None, {'method': 'mean'}, 0)",
    "grow negative": "core.grow_mask(np.zeros((2, 3), bool), -1.0)",
    "grow nan": "core.grow_mask(np.zeros((2, 3), bool), float('nan'))",
    "grow 1-D": "core.grow_mask(np.zeros(2, bool), 2.0)",
    "grow uint8": "core.grow_mask(np.zeros((2, 3), np.uint8), 2.0)",
    "stat name": "core.frame_stat(f(3), None, 'bogus', 0, 0, 0, 0, 0)",
    "stat mask": "core.frame_stat(f(3), np.zeros(2, bool), 'mean', 0, 0, 0, 0, 0)",
}


def test_malformed_kernel_calls_raise_and_never_crash():
    code = """
    import json, sys
    import numpy as np
    import imcombiners._core as core
    f = lambda n: np.arange(float(n))
    cases = json.loads(sys.argv[1])
    out = {}
    for name, expr in cases.items():
        print(name, file=sys.stderr, flush=True)  # the last line names a crashing case
        try:
            eval(expr)
            out[name] = "returned"
        except Exception as exc:
            # the builtin class it is (imcombiners.errors subclasses the builtins)
            out[name] = next(c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins")
    print(json.dumps(out))
    """
    proc = run_python(code, args=[json.dumps(MALFORMED)], timeout=120)
    assert_clean_exit(proc, "malformed kernel calls")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    allowed = {"TypeError", "ValueError", "OverflowError"}
    bad = {k: v for k, v in got.items() if v not in allowed}
    assert not bad, f"kernel calls that did not raise a TypeError/ValueError: {bad}"


GROW_CHILD = """
import resource, sys, time
import numpy as np
# safety net: the defect being tested allocates without bound; fail fast instead of
# eating the machine's memory
resource.setrlimit(resource.RLIMIT_DATA, (3 << 30, 3 << 30))
import imcombiners as imc
x = np.full((4, 4, 4), 100.0, np.float32)
x[0, 1, 1] = 1e4   # one outlier in frame 0
t0 = time.perf_counter()
res = imc.Combiner(x).combine("mean", rejectors=imc.SigClip(sigma=1.0, grow=float(sys.argv[1])),
                              diagnostics="simple")
# any radius >= the frame diagonal masks the whole of frame 0 and nothing else
assert res.mask[0].all() and not res.mask[1:].any(), res.mask
assert np.all(res.data == 100.0)
print(f"{time.perf_counter() - t0:.2f}")
"""


def test_grow_radius_up_to_the_frame_diagonal_is_fine():
    proc = run_python(GROW_CHILD, args=["10"], timeout=60)
    assert_clean_exit(proc, "grow=10")


def test_huge_grow_radius_finishes_quickly():
    proc = run_python(GROW_CHILD, args=["1e6"], timeout=12)
    assert_clean_exit(proc, "grow=1e6")


def test_public_entry_points_validate_threads():
    import imcombiners as imc

    x = np.ones((3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="threads"):
        imc.imcombine(x, threads=-1)
    with pytest.raises(TypeError, match="threads"):
        imc.imcombine(x, threads="2")
    import imcombiners.dask as imd

    with pytest.raises(ValueError, match="threads"):
        imd.combine(x, threads=-1)


def test_kernels_wavg_validates_weights():
    """Found by the fuzzer: a non-numeric weight gave NumPy's "could not convert string
    to float: 'x'" (no parameter named)."""
    import imcombiners.kernels as imck

    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    with pytest.raises(TypeError, match="weights"):
        imck.wavg(x, "x")
    with pytest.raises(ValueError, match="weights"):
        imck.wavg(x, [1.0, 2.0])
    with pytest.raises(TypeError, match="stack"):
        imck.wavg(5, [1.0])
    np.testing.assert_allclose(imck.wavg(x, [1.0, 0.0, 1.0]), (x[0] + x[2]) / 2)
