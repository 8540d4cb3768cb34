"""The command line's local engine (no Dask) against the Dask engine: the same files.

``combine_to_files(engine="local")`` reads strips of FITS files in this process;
``engine="dask"`` runs :func:`imcombiners.dask.combine` tile tasks. Both must write the
same pixels (bit for bit) and the same header cards, for every kind of job: rejection
with diagnostics, normalisation statistics over a section, weights, grow across strip
boundaries, NaN inputs, inputs of different pixel types, one strip or many.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from imcombiners import _memory_model as memory_model
from imcombiners.cli import _local
from imcombiners.cli._check import inspect_inputs
from imcombiners.cli._engine import combine_to_files
from imcombiners.cli._rejection import build_rejectors

N, H, W = 9, 61, 37


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("local")
    rng = np.random.default_rng(2024)
    level = rng.normal(0.0, 30.0, N)
    names = {"u16": [], "f32": [], "mixed": []}
    for i in range(N):
        img = rng.normal(1000.0 + level[i], 12.0, (H, W))
        hits = rng.random((H, W)) < 0.02
        img[hits] += rng.uniform(300, 5000, hits.sum())
        u = np.clip(np.rint(img), 0, 65535).astype(np.uint16)
        p = d / f"u{i}.fits"
        hdu = fits.PrimaryHDU(u)  # BITPIX=16, BZERO=32768
        hdu.header["EXPTIME"] = (10.0 + i, "s")
        hdu.header["OBSERVER"] = "O'Brien"
        hdu.writeto(p)
        names["u16"].append(str(p))
        f = img.astype(np.float32)
        f[rng.random((H, W)) < 0.01] = np.nan
        q = d / f"f{i}.fits"
        fits.PrimaryHDU(f).writeto(q)
        names["f32"].append(str(q))
        names["mixed"].append(str(p) if i % 2 else str(q))
    return d, names


def _reject(kind: str, **params):
    base = {"lsigma": 3.0, "hsigma": 3.0, "mclip": True, "maxiters": None, "nkeep": 1, "maxrej": None,
            "nlow": 1, "nhigh": 1, "rdnoise": 0.0, "gain": 1.0, "snoise": 0.0, "sigscale": 0.1,
            "pclip": -0.5, "low_scale": 1.0, "low": 0.0, "upp_scale": 1.0, "upp": 0.0, "grow": 0.0,
            "stdfunc": None, "revert_on_nkeep": None, "ddof": 0}
    base.update(params)
    return build_rejectors(kind, base)


JOBS = {
    "median-u16": dict(inputs="u16", method="median", products=("nrej", "nused", "std", "flags")),
    "sigclip-ddof1": dict(inputs="u16", method="mean", rejectors=_reject("sigclip", ddof=1),
                          products=("nrej", "std", "low", "upp", "nit", "flags", "mask")),
    "normalised": dict(inputs="u16", method="mean", rejectors=_reject("sigclip"), zero="mean",
                       scale="median", statsec="[3:30,5:50]", products=("nused",)),
    "weighted": dict(inputs="f32", method="mean", weights="median", products=("nused",)),
    "grow": dict(inputs="u16", method="mean", rejectors=_reject("minmax", nlow=1, nhigh=2, grow=1.5),
                 products=("nrej", "mask")),
    "nan-lmedian": dict(inputs="f32", method="lmedian", rejectors=_reject("ccdclip", rdnoise=5.0, gain=1.2),
                        products=("nused", "std")),
    "mixed-types": dict(inputs="mixed", method="median", rejectors=_reject("pclip"), products=("flags",)),
    "avsigclip": dict(inputs="u16", method="mean", rejectors=_reject("avsigclip"), products=("nrej",)),
}


def _run(d, names, name, spec, engine, tmp, dtype=None, memory_limit=None):
    where = tmp / engine  # same file names: the products name their master
    diag = where / f"{name}-diag"
    diag.mkdir(parents=True)
    out = where / f"{name}.fits"
    products = {p: str(diag / f"{p}.fits") for p in spec.get("products", ())}
    info = inspect_inputs(names[spec["inputs"]])
    outcome = combine_to_files(info, out, method=spec["method"], rejectors=spec.get("rejectors", []),
                     zero=spec.get("zero"), scale=spec.get("scale"), weights=spec.get("weights"),
                     statsec=spec.get("statsec"), products=products, dtype=dtype,
                     memory_limit=memory_limit, engine=engine)
    return out, outcome.products


def _same_file(a: str, b: str) -> None:
    with fits.open(a) as fa, fits.open(b) as fb:
        da, db = fa[0].data, fb[0].data
        assert da.dtype == db.dtype and da.shape == db.shape
        assert da.tobytes() == db.tobytes(), f"{os.path.basename(a)}: pixels differ"
        ha = [c for c in fa[0].header.cards if c.keyword != "DATE"]
        hb = [c for c in fb[0].header.cards if c.keyword != "DATE"]
        assert [c.image for c in ha] == [c.image for c in hb]


@pytest.mark.parametrize("strip_input", [None, 4000], ids=["one-strip", "many-strips"])
@pytest.mark.parametrize("name", sorted(JOBS))
def test_local_engine_writes_the_dask_engines_files(files, tmp_path, monkeypatch, name, strip_input):
    d, names = files
    spec = JOBS[name]
    if strip_input is not None:
        monkeypatch.setattr(_local, "STRIP_INPUT", strip_input)  # a few rows per strip
        monkeypatch.setattr(_local, "FRAME_READ", 0)
    out_l, prod_l = _run(d, names, name, spec, "local", tmp_path)
    out_d, prod_d = _run(d, names, name, spec, "dask", tmp_path)
    _same_file(str(out_l), str(out_d))
    assert sorted(prod_l) == sorted(prod_d)
    for key in prod_l:
        _same_file(prod_l[key], prod_d[key])
    # the comparison can fail: the output is not constant
    data = fits.getdata(out_l)
    assert np.nanstd(data) > 0


def test_strip_plan_follows_the_memory_limit(files, tmp_path):
    d, names = files
    info = inspect_inputs(names["u16"])
    run = _local.prepare_local(info, method="median", rejectors=[], thresholds=None, zero=None,
                               scale=None, weights=None, statsec=None, blank=None, ddof=0,
                               outputs=["nused"], threads=2)
    per_pixel = _local.bytes_per_pixel(run.n, 2, 4, run.out_dtypes, 2, 0)
    free = _local.plan_strips(run.n, run.spatial, 2, per_pixel, 0, None, 2)
    assert free.rows == H and free.nstrips == 1  # a small stack is one strip
    base = memory_model.process_baseline()
    row = W * per_pixel * memory_model.SAFETY
    tight = _local.plan_strips(run.n, run.spatial, 2, per_pixel, 0,
                               base + 2 * memory_model.TASK_OVERHEAD + int(2 * 10 * row) + (8 << 20), 2)
    assert tight.predicted_peak <= tight.memory_limit
    with pytest.raises(MemoryError, match="--memory-limit"):
        _local.plan_strips(run.n, run.spatial, 2, per_pixel, 0, base, 2)
    # AvSigClip's kernel keeps sorted lines: each strip counts them and still fits
    store = memory_model.sorted_store_bytes(run.n, 10 * W, W)
    lim = base + 2 * memory_model.TASK_OVERHEAD + int(2 * (10 * row + memory_model.SAFETY * store)) + (8 << 20)
    av = _local.plan_strips(run.n, run.spatial, 2, per_pixel, 0, lim, 2, sorted_store=True)
    assert av.predicted_peak <= av.memory_limit
    px = min(H, av.rows) * W
    # a single strip runs on every thread, each worker with a store of its own
    workers = av.threads if av.nstrips == 1 else 1
    stored = memory_model.sorted_store_bytes(run.n, px, W, workers)
    assert av.per_strip == int(memory_model.SAFETY * (px * per_pixel + stored)) + memory_model.TASK_OVERHEAD
    # strips of one kernel thread each count one store
    strips = _local.plan_strips(run.n, run.spatial, 2, per_pixel, 0, None, 2, sorted_store=True)
    assert strips.nstrips == 1 and strips.per_strip > int(memory_model.SAFETY * (
        H * W * per_pixel + memory_model.sorted_store_bytes(run.n, H * W, W))) + memory_model.TASK_OVERHEAD


def test_a_failing_strip_leaves_no_output(files, tmp_path, monkeypatch):
    d, names = files
    import imcombiners._job as job_module

    calls = {"n": 0}
    real = job_module.run_job

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # the probe, then three strips
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(job_module, "run_job", failing)
    monkeypatch.setattr(_local, "STRIP_INPUT", 2000)
    monkeypatch.setattr(_local, "FRAME_READ", 0)
    info = inspect_inputs(names["u16"])
    diag = tmp_path / "diag"
    diag.mkdir()
    with pytest.raises(RuntimeError, match="disk on fire"):
        combine_to_files(info, tmp_path / "m.fits", method="median", products={"nused": str(diag / "n.fits")},
                         engine="local")
    assert sorted(os.listdir(tmp_path)) == ["diag"] and os.listdir(diag) == []


def test_a_small_stack_is_read_while_the_run_is_prepared(files, tmp_path, monkeypatch):
    # one strip without a memory limit: the stack is read by a background thread started
    # before the job is built; the file is the one read strip by strip (same bits)
    d, names = files
    started = []

    class Spy(_local.StackPrefetch):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(_local, "StackPrefetch", Spy)
    spec = JOBS["sigclip-ddof1"]
    early, _ = _run(d, names, "early", spec, "local", tmp_path / "early")
    assert len(started) == 1 and started[0]._stack is None  # read, then taken by the strip
    limited, _ = _run(d, names, "early", spec, "local", tmp_path / "limited", memory_limit=1 << 34)
    assert len(started) == 1  # a memory limit: read in the strip, after the baseline
    _same_file(str(early), str(limited))
    monkeypatch.setattr(_local, "STRIP_INPUT", 4000)
    monkeypatch.setattr(_local, "FRAME_READ", 0)
    _run(d, names, "strips", spec, "local", tmp_path / "strips")
    assert len(started) == 1  # more than one strip: nothing read early


def test_a_failed_background_read_is_the_runs_error(files, tmp_path):
    d, names = files
    copies = []
    for i, name in enumerate(names["u16"][:4]):
        p = tmp_path / f"c{i}.fits"
        p.write_bytes(open(name, "rb").read())
        copies.append(str(p))
    info = inspect_inputs(copies)
    os.truncate(copies[2], info.frames[2].data_offset + 100)  # after the headers were checked
    with pytest.raises(OSError, match="unexpected end of FITS data"):
        combine_to_files(info, tmp_path / "m.fits", method="median", engine="local")
    assert not (tmp_path / "m.fits").exists()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]


def test_strips_of_many_frames_read_large_pieces_of_each_file():
    """Hundreds of frames: each strip reads FRAME_READ of every file when memory allows
    (a 32 MiB strip would read 4 rows, 64 KiB, of each), within MAX_TASK_INPUT."""
    n, spatial, itemsize = 450, (4096, 4096), 4
    per_pixel = n * itemsize + 12
    row_bytes = spatial[1] * itemsize
    for limit in (None, 2**30):
        plan = _local.plan_strips(n, spatial, itemsize, per_pixel, 0, limit, 2)
        assert plan.rows == memory_model.MAX_TASK_INPUT // (n * row_bytes)  # 36 rows: 576 KiB a file
        assert plan.rows * row_bytes >= 512 * 2**10
        if limit is not None:
            assert plan.predicted_peak <= limit
    few = _local.plan_strips(50, spatial, itemsize, 50 * itemsize + 12, 0, None, 2)
    assert few.rows * row_bytes >= memory_model.FRAME_READ  # 64 rows: FRAME_READ itself
    tight = _local.plan_strips(n, spatial, itemsize, per_pixel, 0, 400 * 2**20, 2)
    assert tight.rows < plan.rows and tight.predicted_peak <= 400 * 2**20  # memory first
