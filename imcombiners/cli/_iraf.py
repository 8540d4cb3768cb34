"""IRAF task-form parameters: ``name=value`` tokens with IRAF's names and rules.

``imcombiners imcombine @in.lis master.fits combine=median reject=sigclip lsigma=3``
is read the way the IRAF CL reads a task call: parameter names may be abbreviated to
any unique prefix, booleans are ``yes``/``no`` (or ``name+``/``name-``), ``INDEF``
means "not set", and ``@file`` values of zero/scale/weight hold one number per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from imcombiners._iraf_params import COMBINES, REJECTS, STATISTICS, IrafParams

from ._errors import CLIError

__all__ = ["IRAF_PARAMETERS", "IrafCall", "parse_iraf_call", "parse_bool"]


def parse_bool(name: str, text: str) -> bool:
    """Read an IRAF boolean (``yes``/``no``, ``y``/``n``, ``true``/``false``, 1/0)."""
    t = text.strip().lower()
    if t in ("yes", "y", "true", "t", "1"):
        return True
    if t in ("no", "n", "false", "f", "0"):
        return False
    raise CLIError(f"{name}: expected yes or no, got '{text}'")


def _real_or_indef(name: str, text: str) -> float | None:
    if text.strip().upper() in ("INDEF", ""):
        return None
    return _real(name, text)


def _real(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"{name}: expected a number, got '{text}'") from None
    if math.isnan(value):
        raise CLIError(f"{name}: expected a number, got '{text}'")
    return value


def _count(name: str, text: str) -> int | float:
    # IRAF declares nlow/nhigh integers; fractions (< 1) are this library's extension.
    value = _real(name, text)
    return int(value) if value == int(value) else value


def _int(name: str, text: str) -> int:
    value = _real(name, text)
    if value != int(value):
        raise CLIError(f"{name}: expected an integer, got '{text}'")
    return int(value)


def _noise(name: str, text: str) -> float | str:
    # IRAF accepts a number or the name of a header keyword holding it (per image).
    try:
        return float(text)
    except ValueError:
        t = text.strip()
        if not t.replace("-", "_").replace("_", "a").isalnum():
            raise CLIError(f"{name}: expected a number or a header keyword, got '{text}'") from None
        return t


def _factor(name: str, text: str) -> str | list[float]:
    """zero/scale/weight: a statistic name, !KEYWORD, or @file of numbers."""
    t = text.strip()
    if t.startswith("@"):
        path = Path(t[1:])
        if not path.is_file():
            raise CLIError(f"{name}: file not found: '{path}'")
        values = []
        for line in path.read_text().split("\n"):
            for word in line.split("#", 1)[0].split():
                values.append(_real(f"{name} file '{path}'", word))
        return values
    low = t.lower()
    allowed = ("none", *STATISTICS, "exposure")
    if t.startswith("!") and len(t) > 1:
        return t
    if low not in allowed:
        raise CLIError(f"{name}: expected one of {', '.join(allowed)}, !KEYWORD or @file; got '{text}'")
    return low


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, text: str) -> str:
        t = text.strip().lower()
        if t not in choices:
            raise CLIError(f"{name}: expected one of {', '.join(choices)}; got '{text}'")
        return t

    return parse


def _string(name: str, text: str) -> str:
    return text.strip()


def _outtype(name: str, text: str) -> str:
    # IRAF reads the first letter (short, ushort, integer, long, real, double, none)
    t = text.strip().lower()
    if t in ("", "none", "n"):
        return ""
    full = {"s": "short", "u": "ushort", "i": "integer", "l": "long", "r": "real", "d": "double"}.get(t[:1])
    if full is None or not full.startswith(t):
        raise CLIError(f"{name}: expected one of short, ushort, integer, long, real, double, none; got '{text}'")
    return full


@dataclass(frozen=True)
class _Param:
    parse: Callable[[str, str], Any]
    default: Any
    kind: str  # "io", "product", or "parameter" (of the task)
    doc: str

    def role(self, name: str) -> str:
        """``io``, ``product``, ``kw`` (an :func:`imcombiners.imcombine` keyword) or ``fixed``
        (a task parameter the library does not provide: only its default is accepted)."""
        if self.kind != "parameter":
            return self.kind
        return "kw" if name in IrafParams.names() else "fixed"

#: Not combine types of IRAF or the library: IRAF users get them with reject=minmax
#: (nhigh/nlow = N-1), and so does the task form (:func:`imcombine_kwargs`).
MINMAX_COMBINES = ("minimum", "maximum")

#: Every IRAF IMCOMBINE parameter, in IRAF's order, with how the CLI treats it.
IRAF_PARAMETERS: dict[str, _Param] = {
    "input": _Param(_string, None, "io", "input images (list, @file, glob)"),
    "output": _Param(_string, None, "io", "output image (FITS)"),
    "headers": _Param(_string, "", "product", "output file of the input headers (one extension each)"),
    "bpmasks": _Param(_string, "", "product", "output bad pixel mask"),
    "rejmasks": _Param(_string, "", "product", "output rejection mask (N planes)"),
    "nrejmasks": _Param(_string, "", "product", "output number-of-rejections image"),
    "expmasks": _Param(_string, "", "product", "output exposure mask"),
    "sigmas": _Param(_string, "", "product", "output sigma image"),
    "imcmb": _Param(_string, "$I", "parameter", "IMCMBnnn keyword value"),
    "logfile": _Param(_string, "STDOUT", "product", "log file ('STDOUT' or '' for none)"),
    "combine": _Param(_choice(*COMBINES, *MINMAX_COMBINES), "average", "parameter",
                      "type of combine operation"),
    "reject": _Param(_choice(*REJECTS), "none", "parameter", "type of rejection"),
    "project": _Param(parse_bool, False, "parameter", "project highest dimension of input images"),
    "outtype": _Param(_outtype, "real", "parameter", "output image pixel type"),
    "outlimits": _Param(_string, "", "parameter", "output limits"),
    "offsets": _Param(_string, "none", "parameter", "input image offsets"),
    "masktype": _Param(_string, "none", "parameter", "mask type"),
    "maskvalue": _Param(_string, "0", "parameter", "mask value"),
    "blank": _Param(_real, 0.0, "parameter", "value if there are no pixels"),
    "scale": _Param(_factor, "none", "parameter", "image scaling"),
    "zero": _Param(_factor, "none", "parameter", "image zero point offset"),
    "weight": _Param(_factor, "none", "parameter", "image weights"),
    "statsec": _Param(_string, "", "parameter", "image section for computing statistics"),
    "expname": _Param(_string, "", "parameter", "image header exposure time keyword"),
    "lthreshold": _Param(_real_or_indef, None, "parameter", "lower threshold"),
    "hthreshold": _Param(_real_or_indef, None, "parameter", "upper threshold"),
    "nlow": _Param(_count, 1, "parameter", "minmax: number of low pixels to reject"),
    "nhigh": _Param(_count, 1, "parameter", "minmax: number of high pixels to reject"),
    "nkeep": _Param(_int, 1, "parameter", "minimum to keep (pos) or maximum to reject (neg)"),
    "mclip": _Param(parse_bool, True, "parameter", "use median in sigma clipping algorithms?"),
    "lsigma": _Param(_real, 3.0, "parameter", "lower sigma clipping factor"),
    "hsigma": _Param(_real, 3.0, "parameter", "upper sigma clipping factor"),
    "rdnoise": _Param(_noise, 0.0, "parameter", "ccdclip: CCD readout noise (electrons)"),
    "gain": _Param(_noise, 1.0, "parameter", "ccdclip: CCD gain (electrons/DN)"),
    "snoise": _Param(_noise, 0.0, "parameter", "ccdclip: sensitivity noise (fraction)"),
    "sigscale": _Param(_real, 0.1, "parameter", "tolerance for sigma clipping scaling corrections"),
    "pclip": _Param(_real, -0.5, "parameter", "pclip: percentile clipping parameter"),
    "grow": _Param(_real, 0.0, "parameter", "radius (pixels) for neighbor rejection"),
}

# Values of the "fixed" parameters that mean "feature not used" (anything else is refused).
_FIXED_OK = {
    "imcmb": {"$I", "$i"},
}


@dataclass
class IrafCall:
    """A parsed ``imcombine`` task call.

    Attributes
    ----------
    inputs : list of str
        Input tokens (expanded later: @lists, globs, comma lists).
    output : str
        Output image path.
    kwargs : dict
        Keyword arguments for :func:`imcombiners.imcombine` (only those given).
    products : dict
        Optional outputs asked for: ``sigmas``, ``rejmasks``, ``nrejmasks``,
        ``expmasks``, ``bpmasks``, ``headers`` -> path.
    logfile : str
        ``"STDOUT"`` (default), ``""`` (no log) or a path.
    """

    inputs: list[str]
    output: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)
    logfile: str = "STDOUT"


def resolve_name(name: str) -> str:
    """Resolve a possibly abbreviated IRAF parameter name (unique prefix, as the CL does)."""
    key = name.strip().lower()
    if key in IRAF_PARAMETERS:
        return key
    hits = [p for p in IRAF_PARAMETERS if p.startswith(key)] if key else []
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise CLIError(f"ambiguous parameter '{name}' (matches {', '.join(hits)})")
    raise CLIError(f"unknown parameter '{name}' (imcombine parameters: {', '.join(IRAF_PARAMETERS)})")


def _split_token(token: str) -> tuple[str, str] | None:
    """``name=value`` / ``name+`` / ``name-`` -> (name, value); None for a positional."""
    if "=" in token:
        name, value = token.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return name, value
    if token.endswith(("+", "-")) and token[:-1].isidentifier():
        return token[:-1], "yes" if token.endswith("+") else "no"
    return None


def parse_iraf_call(tokens: list[str]) -> IrafCall:
    """Parse ``INPUT OUTPUT name=value ...`` as IRAF's CL would.

    Parameters
    ----------
    tokens : list of str
        Positional ``input`` and ``output`` (or ``input=``/``output=``), then
        parameters. Names may be abbreviated to a unique prefix.

    Returns
    -------
    IrafCall

    Raises
    ------
    CLIError
        On an unknown or ambiguous name, a bad value, a parameter given twice, or an
        IRAF feature this library does not provide (``imcmb`` other than ``$I``).
    """
    positional: list[str] = []
    given: dict[str, Any] = {}
    for token in tokens:
        split = _split_token(token)
        if split is None:
            if given:
                raise CLIError(f"positional argument '{token}' after name=value parameters")
            positional.append(token)
            continue
        name = resolve_name(split[0])
        if name in given:
            raise CLIError(f"parameter '{name}' given twice")
        spec = IRAF_PARAMETERS[name]
        given[name] = spec.parse(name, split[1])

    for slot in ("input", "output"):
        if slot in given:
            continue
        if not positional:
            raise CLIError(f"missing {slot} (usage: imcombine INPUT OUTPUT [name=value ...])")
        given[slot] = positional.pop(0)
    if positional:
        raise CLIError(f"unexpected argument '{positional[0]}' (parameters are name=value)")

    call = IrafCall(inputs=[given.pop("input")], output=given.pop("output"))
    if not call.output:
        raise CLIError("output: an output image name is required")
    for name, value in given.items():
        spec = IRAF_PARAMETERS[name]
        role = spec.role(name)
        if role == "fixed":
            if value not in _FIXED_OK[name]:
                raise CLIError(
                    f"{name}={value!r} is not supported by imcombiners "
                    f"(leave {name} at its default {spec.default!r})"
                )
        elif role == "product":
            if name == "logfile":
                call.logfile = value
            elif value:
                call.products[name] = value
        else:
            call.kwargs[name] = value
    _check_parameters(call.kwargs)
    return call


def imcombine_kwargs(kwargs: dict[str, Any], n: int | None = None) -> dict[str, Any]:
    """Task values -> :func:`imcombiners.imcombine` keywords (IRAF's "" and "none" mean "not set").

    ``combine=minimum|maximum`` becomes what IRAF users run for it: ``combine=average``
    after ``reject=minmax`` removes the N-1 highest (lowest) values; ``n`` is N (None:
    before the inputs are known, N = 2 stands in for validation).
    """
    out = dict(kwargs)
    for key in ("statsec", "expname", "outlimits"):
        if key in out and not out[key]:
            out[key] = None
    if out.get("outtype") in ("none", ""):
        out.pop("outtype")
    if out.get("offsets") == "":
        out["offsets"] = "none"
    if out.get("masktype") == "":
        out["masktype"] = "none"
    combine = out.get("combine")
    if combine in MINMAX_COMBINES:
        if out.get("reject", "none") != "none":
            raise CLIError(f"combine={combine} is computed with reject=minmax (nlow/nhigh = N-1); "
                           f"it cannot be combined with reject={out['reject']}")
        m = 2 if n is None else n
        low = combine == "maximum"
        out.update(combine="average", reject="minmax" if m > 1 else "none",
                   nlow=(m - 1) if low else 0, nhigh=0 if low else (m - 1))
    return out


def _check_parameters(kwargs: dict[str, Any]) -> None:
    """Validate the parameters as the library will (before any file is read)."""
    try:
        IrafParams.from_arguments(imcombine_kwargs(kwargs))
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from None
