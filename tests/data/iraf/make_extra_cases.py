"""Make the extra IRAF reference cases x000... (run once, needs real IRAF).

The 90 cases c000-c089 came with the project; these add what they do not cover:
grow in the second pass with median-centred clips and combine=median (IRAF's wrong
medians), grow leaving pixels without values (IRAF's stale output buffer), grow with
nkeep > 0, masks together with grow (rows of a frame entirely masked), header-keyword
noise parameters and header-keyword scale/zero, and sum with grow.

Usage (IRAF via ``apt-get install iraf iraf-noao``)::

    python make_extra_cases.py /path/to/iraf/tools   # folder holding iraf_ref.py

Outputs ``x*.npz`` next to this file and appends them to ``index.json`` (``extra``
list), in the same format as the original cases.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

HERE = Path(__file__).parent


def stack_for(rng, n, h, w, dtype=np.float32, cr=0.03, sky=1000.0, scales=None, zeros=None):
    yy, xx = np.mgrid[0:h, 0:w]
    base = sky + 0.5 * xx + 0.3 * yy
    st = np.empty((n, h, w))
    for i in range(n):
        s = 1.0 if scales is None else scales[i]
        z = 0.0 if zeros is None else zeros[i]
        img = base * s + z + rng.normal(0, np.sqrt(sky) * 0.3, (h, w))
        hits = rng.random((h, w)) < cr
        img[hits] += rng.uniform(200, 3000, hits.sum())
        st[i] = img
    if np.issubdtype(dtype, np.integer):
        st = np.round(st)
    return st.astype(dtype)


def base_params(**kw):
    p = dict(combine="average", reject="none", nlow=1, nhigh=1, nkeep=1, mclip=True,
             lsigma=3.0, hsigma=3.0, rdnoise=0.0, gain=1.0, snoise=0.0, sigscale=0.1,
             pclip=-0.5, grow=0.0, lthreshold=None, hthreshold=None, zero="none",
             scale="none", weight="none", statsec="", expname="", blank=0.0,
             outtype="real", masktype="none", maskvalue=0)
    p.update(kw)
    return p


def specs(rng):
    out = []
    out.append(("median_sigclip_grow", "median + median-centred sigclip + grow (wrong medians at grown pixels)",
                stack_for(rng, 7, 20, 26, cr=0.08), None,
                base_params(combine="median", reject="sigclip", mclip=True, lsigma=1.5, hsigma=1.5, grow=1.0)))
    out.append(("average_sigclip_grow_empty", "mean sigclip + grow on 3 frames with many hits: pixels left empty",
                stack_for(rng, 3, 18, 22, cr=0.25), None,
                base_params(reject="sigclip", mclip=False, lsigma=1.0, hsigma=1.0, nkeep=-2, grow=1.5, blank=-1.0)))
    out.append(("median_pclip_grow_nkeep", "pclip + median + grow with nkeep=2 (first-pass output kept)",
                stack_for(rng, 6, 17, 21, cr=0.15), None,
                base_params(combine="median", reject="pclip", pclip=-0.5, lsigma=2.0, hsigma=2.0, nkeep=2,
                            grow=1.0, blank=5.0)))
    st = stack_for(rng, 5, 16, 20, cr=0.05)
    masks = (rng.random(st.shape) < 0.05).astype(np.uint8)
    masks[2, 7, :] = 1
    masks[4, 3, :] = 1
    out.append(("average_minmax_masks_grow", "minmax + masks (whole rows of a frame masked) + grow",
                st, masks,
                base_params(reject="minmax", nlow=1, nhigh=1, grow=1.0, masktype="goodvalue", maskvalue=0)))
    hdr = [{"RDN": 5.0 + i, "GAIN": 1.5 + 0.2 * i} for i in range(6)]
    out.append(("average_ccdclip_keywords", "ccdclip with per-image rdnoise/gain from header keywords",
                stack_for(rng, 6, 15, 23), None,
                base_params(reject="ccdclip", mclip=False, rdnoise="RDN", gain="GAIN", lsigma=2.0, hsigma=2.0,
                            frame_headers=hdr)))
    sc = [1.0, 1.2, 0.9, 1.1, 0.8]
    hdr = [{"SKYSC": s, "SKYZ": 10.0 * i} for i, s in enumerate(sc)]
    out.append(("average_avsigclip_keyword_factors", "scale and zero from header keywords (!KEY)",
                stack_for(rng, 5, 14, 19, scales=sc), None,
                base_params(reject="avsigclip", mclip=True, scale="!SKYSC", zero="!SKYZ", frame_headers=hdr,
                            sigscale=0.05)))
    out.append(("sum_crreject_grow", "sum + crreject + grow (uint16)",
                stack_for(rng, 6, 15, 18, dtype=np.uint16), None,
                base_params(combine="sum", reject="crreject", mclip=True, rdnoise=3.0, gain=1.2, grow=1.0)))
    out.append(("lmedian_avsigclip_thresh_grow", "lmedian + avsigclip(mclip) + thresholds + grow (float64)",
                stack_for(rng, 8, 16, 17, dtype=np.float64), None,
                base_params(combine="lmedian", reject="avsigclip", mclip=True, grow=1.0, hthreshold=2500.0,
                            outtype="double")))
    return out


def _load_tool(tools: str, name: str) -> ModuleType:
    """Import ``name``.py from the shared tools folder by path (it is not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(tools) / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name}.py from {tools}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(tools: str) -> None:
    iraf_imcombine = _load_tool(tools, "iraf_ref").iraf_imcombine

    rng = np.random.default_rng(20240601)
    index = json.loads((HERE / "index.json").read_text())
    extra = []
    for k, (name, desc, st, masks, params) in enumerate(specs(rng)):
        cid = f"x{k:03d}_{name}"
        res = iraf_imcombine(st, masks=masks, **params)
        arrays = dict(
            stack=st,
            output=res["output"],
            sigma=res["sigma"],
            rejmask=res["rejmask"].astype(np.uint8),
            nrejmask=res["nrejmask"].astype(np.int16),
            expmask=res["expmask"].astype(np.int32),
            expmask_maskscal=np.float64(res.get("expmask_header", {}).get("MASKSCAL", 1.0)),
            expmask_maskzero=np.float64(res.get("expmask_header", {}).get("MASKZERO", 0.0)),
            params_json=np.array(json.dumps(params)),
            iraf_log=np.array(res.get("log", "")),
        )
        if masks is not None:
            arrays["masks"] = masks
        np.savez_compressed(HERE / f"{cid}.npz", **arrays)
        extra.append(dict(id=cid, file=f"{cid}.npz", params=params, N=st.shape[0], shape=list(st.shape[1:]),
                          dtype=str(st.dtype), has_masks=masks is not None, description=desc))
        print(cid, "ok")
    index["extra"] = extra
    (HERE / "index.json").write_text(json.dumps(index, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/iraf/tools")
