"""The IRAF task form of the command line: run :func:`imcombiners.imcombine` for a parsed
``imcombiners imcombine ... name=value`` call and write its images the way IRAF does
(output header, the optional products, ``headers``, the log).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any, Mapping

import numpy as np

from ._check import InputInfo, inspect_inputs

__all__ = ["run_imcombine", "iraf_kwargs"]


def run_imcombine(call: Any, *, overwrite: bool = False, quiet: bool = False,
                  info: InputInfo | None = None) -> None:
    """Run :func:`imcombiners.imcombine` for a parsed IRAF task call and write its images.

    The output header is the first input's (primary and extension cards merged, stale
    cards removed, bad cards repaired or dropped), then IMCMBnnn, NCOMBINE and the
    provenance cards, as IRAF writes it.
    """
    import imcombiners as imc
    from imcombiners._iraf_wcs import header_changes
    from imcombiners.io.fits import output_header, read_header, write_image
    from imcombiners.io.provenance import provenance_cards, provenance_dict

    if info is None:
        from ._inputs import expand_inputs

        info = inspect_inputs(expand_inputs(call.inputs), view="iraf")
    paths = list(info.paths)
    kwargs = iraf_kwargs(call, info.n)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")  # every warning is in res.warnings, printed below
        res = imc.imcombine(paths, **kwargs)

    # IRAF's output header: the first input's (as io.fits cleans it), with IRAF's changes
    # (res.header: the shifted world/physical system, NCOMBINE, the input mask name
    # removed), then the provenance of this run.
    params = {"task": "imcombine", **call.kwargs}
    ncombine = int(res.header.get("NCOMBINE", len(paths))) if res.header else len(paths)
    prov = provenance_dict(inputs=paths, ncombine=ncombine, parameters=params,
                           zero=res.zero, scale=res.scale, weights=res.weight)
    changes, removed = header_changes(res.header, read_header(info.frames[0]))
    header = output_header(info.frames[0], (*changes, *provenance_cards(prov)), source=paths[0])
    for key in removed:
        header.remove(key, ignore_missing=True, remove_all=True)
    if "bpmasks" in call.products:
        header["BPM"] = (os.path.basename(call.products["bpmasks"]), "bad pixel mask of this image")
    write_image(call.output, res.output, header, overwrite=overwrite)
    small = (("IMCMAST", os.path.basename(call.output), "master image"),
             ("NCOMBINE", len(paths), "number of images combined"))
    if "sigmas" in call.products:
        write_image(call.products["sigmas"], res.sigma, cards=small, overwrite=overwrite)
    if "rejmasks" in call.products:
        write_image(call.products["rejmasks"], res.rejmask.astype(np.uint8), cards=small, overwrite=overwrite)
    if "nrejmasks" in call.products:
        write_image(call.products["nrejmasks"], res.nrejmask.astype(np.int32), cards=small,
                    overwrite=overwrite)
    if "expmasks" in call.products:
        cards = small + (("MASKSCAL", res.maskscal, "exposure = value * MASKSCAL + MASKZERO"),
                         ("MASKZERO", res.maskzero, "exposure mask zero point"))
        write_image(call.products["expmasks"], res.expmask.astype(np.int32), cards=cards, overwrite=overwrite)
    if "bpmasks" in call.products:
        write_image(call.products["bpmasks"], res.bpmask.astype(np.int32), cards=small, overwrite=overwrite)
    if "headers" in call.products:
        _write_headers(call.products["headers"], call.output, paths, info, overwrite)
    for w in res.warnings:
        print(f"imcombiners imcombine: warning: {w}", file=sys.stderr)
    if call.logfile and not quiet:
        _iraf_log(call, paths, res, kwargs)


def _write_headers(name: str, output: str, paths: list[str], info: InputInfo, overwrite: bool) -> None:
    """IRAF's ``headers`` output: one data-less extension per input holding its header
    (``AXLENn`` for its axes, ``INIMAGE``, ``OUTIMAGE``, ``EXTNAME``)."""
    from astropy.io import fits

    from imcombiners.io.atomic import atomic_path

    path = name if name.lower().endswith(".fits") else name + ".fits"
    hdul = fits.HDUList([fits.PrimaryHDU()])
    for p, file, hdu in zip(paths, info.files, info.hdus):
        src = fits.getheader(file, hdu)
        h = fits.Header()
        for card in src.cards:
            key = card.keyword
            if key in ("SIMPLE", "XTENSION", "BITPIX", "EXTEND", "PCOUNT", "GCOUNT", "END", "BZERO", "BSCALE",
                       "EXTNAME") or key.startswith("NAXIS"):
                continue
            h.append(card, end=True)
        for d in range(int(src.get("NAXIS", 0))):
            h[f"AXLEN{d + 1}"] = int(src[f"NAXIS{d + 1}"])
        h["INIMAGE"] = os.path.basename(p)
        h["OUTIMAGE"] = os.path.basename(output)
        h["EXTNAME"] = os.path.basename(p)
        hdul.append(fits.ImageHDU(header=h))
    with atomic_path(path, overwrite=overwrite) as t:
        hdul.writeto(t)


def iraf_kwargs(call: Any, n: int) -> dict[str, Any]:
    """Keyword arguments of :func:`imcombiners.imcombine` for a parsed task call of N images
    (``combine=minimum|maximum`` as IRAF users compute them, see
    :func:`imcombiners.cli._iraf.imcombine_kwargs`); only the asked-for products."""
    from ._iraf import imcombine_kwargs

    kwargs = imcombine_kwargs(call.kwargs, n)
    wanted = {"sigmas": "sigma", "rejmasks": "rejmask", "nrejmasks": "nrejmask", "expmasks": "expmask",
              "bpmasks": "bpmask"}
    kwargs["products"] = [wanted[k] for k in call.products if k in wanted] or "none"
    return kwargs


def _iraf_log(call: Any, paths: list[str], res: Any, kwargs: Mapping[str, Any]) -> None:
    """A log in the spirit of IRAF's (parameters, per-image factors, output)."""
    p = {"combine": "average", "reject": "none", "scale": "none", "zero": "none", "weight": "none",
         **kwargs}
    lines = [time.strftime("%b %e %H:%M: IMCOMBINE (imcombiners)")]
    lines.append(f"  combine = {p['combine']}, scale = {_txt(p['scale'])}, zero = {_txt(p['zero'])}, "
                 f"weight = {_txt(p['weight'])}")
    if p["reject"] != "none":
        extra = ", ".join(f"{k} = {_txt(kwargs[k])}" for k in
                          ("mclip", "nkeep", "lsigma", "hsigma", "nlow", "nhigh", "rdnoise", "gain",
                           "snoise", "sigscale", "pclip", "grow") if k in kwargs)
        lines.append(f"  reject = {p['reject']}" + (f", {extra}" if extra else ""))
    lines.append(f"  {'Images':<32s} {'Zero':>10s} {'Scale':>8s} {'Weight':>8s}")
    for i, path in enumerate(paths):
        lines.append(f"  {os.path.basename(path):<32s} {float(res.zero[i]):10.5g} "
                     f"{float(res.scale[i]):8.4f} {float(res.weight[i]):8.4f}")
    lines.append(f"  Output image = {call.output}, ncombine = {len(paths)}")
    for name, path in call.products.items():
        lines.append(f"  {name[:-1].capitalize()} image = {path}" if name.endswith("s") else f"  {path}")
    text = "\n".join(lines) + "\n"
    if call.logfile == "STDOUT":
        sys.stdout.write(text)
    else:
        with open(call.logfile, "a") as fh:
            fh.write(text)


def _txt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "@list"
    return str(v)
