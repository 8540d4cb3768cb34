"""Command-line rejection options (IRAF names) -> rejector dataclasses."""

from __future__ import annotations

from typing import Any

from ._errors import CLIError

__all__ = ["build_rejectors", "parse_factor"]


def build_rejectors(reject: str, p: dict[str, Any]) -> list:
    """Make the rejector list for ``--reject`` and the IRAF-named options.

    Parameters
    ----------
    reject : str
        none, sigclip, avsigclip, ccdclip, crreject (ccdclip, high side only),
        linearclip, minmax, pclip, winsorized, gesd or linearfit.
    p : dict
        Option values: lsigma, hsigma, mclip, maxiters, nkeep, maxrej, nlow, nhigh,
        rdnoise, gain, snoise, sigscale, pclip, low_scale, low, upp_scale, upp, grow,
        stdfunc, revert_on_nkeep, ddof, cutoff, max_outliers, significance. Missing keys
        (or None) take the library defaults.

    Returns
    -------
    list of imcombiners rejectors (empty for ``none``).

    Raises
    ------
    CLIError
        When the library refuses a value (the library's message, on one line).
    """
    reject = reject.lower()
    if reject == "none":
        return []
    from imcombiners import _rejectors as R

    # No sigma given: 3 (linearfit: 5, its own default).
    default_sigma = 5.0 if reject == "linearfit" else 3.0

    def given(key: str) -> float:
        return default_sigma if p.get(key) is None else float(p[key])

    sigma = (given("lsigma"), given("hsigma"))
    centre = "median" if p.get("mclip", True) else "mean"
    grow = p.get("grow") or None
    common: dict[str, Any] = {"nkeep": int(p.get("nkeep", 1)), "grow": grow}
    iterative = dict(common, maxrej=p.get("maxrej"))
    if p.get("revert_on_nkeep") is not None:
        iterative["revert_on_nkeep"] = bool(p["revert_on_nkeep"])
    if p.get("maxiters") is not None:
        iterative["maxiters"] = int(p["maxiters"])
    try:
        if reject == "sigclip":
            kw = dict(iterative, sigma=sigma, cenfunc=centre)
            if p.get("stdfunc"):
                kw["stdfunc"] = p["stdfunc"]
            if p.get("ddof"):
                kw["ddof"] = int(p["ddof"])
            return [R.SigClip(**kw)]
        if reject in ("ccdclip", "crreject"):
            return [R.CcdClip(**iterative, sigma=sigma, cenfunc=centre,
                              rdnoise=float(p.get("rdnoise", 0.0)), gain=float(p.get("gain", 1.0)),
                              snoise=float(p.get("snoise", 0.0)),
                              sigscale=float(p.get("sigscale", 0.1)), high_only=reject == "crreject")]
        if reject == "avsigclip":
            return [R.AvSigClip(**common, sigma=sigma, cenfunc=centre,
                                sigscale=float(p.get("sigscale", 0.1)))]
        if reject == "linearclip":
            return [R.LinearClip(**iterative, cenfunc=centre,
                                 low_scale=float(p.get("low_scale", 1.0)), low=float(p.get("low", 0.0)),
                                 upp_scale=float(p.get("upp_scale", 1.0)), upp=float(p.get("upp", 0.0)))]
        if reject == "minmax":
            return [R.MinMaxClip(n_min=_count(p.get("nlow", 1)), n_max=_count(p.get("nhigh", 1)), grow=grow)]
        if reject == "pclip":
            return [R.PClip(frac=float(p.get("pclip", -0.5)), sigma=sigma, **common)]
        if reject in ("winsorized", "linearfit", "gesd"):
            from imcombiners import _rejectors_modern as M
        if reject == "winsorized":
            return [M.WinsorizedSigClip(**iterative, sigma=sigma, cutoff=float(p.get("cutoff") or 1.5))]
        if reject == "linearfit":
            return [M.LinearFitClip(**iterative, sigma=sigma)]
        if reject == "gesd":
            return [M.GESDClip(**dict(common, maxrej=p.get("maxrej")),
                               max_outliers=float(p.get("max_outliers", 0.3)),
                               significance=float(p.get("significance", 0.05)))]
    except (TypeError, ValueError) as exc:
        raise CLIError(f"--reject {reject}: {exc}") from None
    raise CLIError(
        f"--reject: unknown algorithm '{reject}' (accepted: none, sigclip, avsigclip, ccdclip, "
        "crreject, linearclip, minmax, pclip, winsorized, gesd, linearfit)"
    )


def _count(value: Any) -> int | float:
    v = float(value)
    return int(v) if v == int(v) and v >= 1 or v == 0 else v


def header_values(option: str, keyword: str, paths: list[str], hdus: list[Any]) -> list[float]:
    """One number per input from a header keyword (IRAF's ``!KEYWORD``, ``exposure``).

    The image's header as IRAF sees it (primary cards merged for an image in an
    extension); a number written with a decimal comma or as a string is read too.
    """
    from imcombiners.io.fits import header_number, read_header

    values = []
    for path, hdu in zip(paths, hdus):
        value = header_number(read_header(path, hdu).get(keyword))
        if value is None:
            raise CLIError(f"{option}: input '{path}' has no numeric {keyword} keyword")
        values.append(value)
    return values


def parse_factor(option: str, text: str | None, n: int, *, paths: list[str] | None = None,
                 hdus: list[Any] | None = None) -> Any:
    """``--zero/--scale/--weight`` value -> library argument.

    ``none`` -> None; a statistic name -> that name (``noise``: --weight only);
    ``'1,2,3'`` -> list of N floats;
    ``@file`` -> list of N floats (one or more per line, ``#`` comments); ``!KEYWORD``
    -> the keyword's value in each input header; ``exposure`` -> ``EXPTIME`` (for
    ``--scale``, relative to the first image, so the master keeps its units).
    """
    if text is None:
        return None
    t = text.strip()
    low = t.lower()
    if low in ("", "none"):
        return None
    names = ("mean", "median", "mode", "sigclip_mean", "sigclip_median")
    if low in names:
        return low
    if low == "noise":
        if option != "--weight":
            raise CLIError(f"{option}: 'noise' is for --weight (inverse-variance weights from each frame's noise)")
        return "noise"
    if low == "exposure" or (t.startswith("!") and len(t) > 1):
        if option == "--zero" and low == "exposure":
            raise CLIError("--zero: 'exposure' is for --scale and --weight")
        if paths is None:
            raise CLIError(f"{option}: header values need FITS inputs")
        key = "EXPTIME" if low == "exposure" else t[1:].upper()
        values = header_values(option, key, paths, hdus or [None] * len(paths))
        if low == "exposure" and option == "--scale":
            if values[0] == 0:
                raise CLIError(f"--scale exposure: the first image has {key} = 0")
            values = [v / values[0] for v in values]
        return values
    words: list[str]
    if t.startswith("@"):
        from pathlib import Path

        path = Path(t[1:])
        if not path.is_file():
            raise CLIError(f"{option}: file not found: '{path}'")
        words = [w for line in path.read_text().splitlines() for w in line.split("#", 1)[0].split()]
    else:
        words = [w for w in t.replace(",", " ").split()]
    try:
        values = [float(w) for w in words]
    except ValueError:
        raise CLIError(
            f"{option}: expected none, {', '.join(names)}, noise (--weight), exposure, !KEYWORD, "
            "numbers 'v1,v2,...' "
            "or @file; "
            f"got '{text}'"
        ) from None
    if len(values) == 1:
        return values[0] if option == "--zero" else [values[0]] * n
    if len(values) != n:
        raise CLIError(f"{option}: {len(values)} values given for {n} input images")
    return values
