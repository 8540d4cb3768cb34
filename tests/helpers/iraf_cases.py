"""The stored real-IRAF reference cases (``tests/data/iraf``, made by IRAF 2.17 itself).

Shared by the in-memory case tests (``test_iraf_cases.py``) and the out-of-core ones
(``test_dask_iraf.py``): the case index and how a case file becomes the stack, the
masks and the keyword arguments of :func:`imcombiners.imcombine`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "iraf"
INDEX = json.loads((DATA / "index.json").read_text())
CASES: list[dict[str, Any]] = INDEX["cases"]
#: Extra cases made with real IRAF by data/iraf/make_extra_cases.py (grow, keywords...).
EXTRA: list[dict[str, Any]] = INDEX.get("extra", [])
ALL_CASES = CASES + EXTRA


def case_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """A case's IRAF parameters as keyword arguments of :func:`imcombiners.imcombine`."""
    p = dict(params)
    headers = p.pop("frame_headers", None)
    p.pop("masktype", None)
    p.pop("maskvalue", None)
    if p.get("statsec") == "":
        p["statsec"] = None
    if p.get("expname") == "":
        p["expname"] = None
    for key in ("zero", "scale", "weight"):
        if isinstance(p[key], list):
            p[key] = [float(v) for v in p[key]]
    p["headers"] = headers
    p["products"] = ["sigma", "rejmask", "nrejmask", "expmask"]  # the v1 cases hold all four
    return p


def load_case(case: dict[str, Any]) -> tuple[Any, dict[str, Any], np.ndarray | None]:
    """(the case's npz archive, its parameters, its masks or None)."""
    z = np.load(DATA / case["file"])
    params = json.loads(str(z["params_json"]))
    assert params == case["params"]
    masks = z["masks"] if "masks" in z.files else None
    return z, params, masks
