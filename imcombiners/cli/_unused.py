"""Options that do nothing for the chosen method: one warning line each.

A user who writes ``--lsigma 2.5`` without ``--reject``, or ``rdnoise=4`` with
``reject=sigclip``, expects it to matter; it does not, and saying so saves a wasted
night. Only options the user typed are considered (defaults never warn).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["given_options", "unused_combine_options", "unused_iraf_parameters"]

_SIGMA = ("sigclip", "avsigclip", "ccdclip", "crreject", "pclip")
_ITERATIVE = ("sigclip", "ccdclip", "crreject", "linearclip")
_CCD = ("ccdclip", "crreject")
_ANY = ("sigclip", "avsigclip", "ccdclip", "crreject", "linearclip", "minmax", "pclip")

#: ``combine`` option dest -> rejection algorithms that use it.
COMBINE_USES: dict[str, tuple[str, ...]] = {
    "lsigma": _SIGMA, "hsigma": _SIGMA,
    "mclip": ("sigclip", "avsigclip", "ccdclip", "crreject", "linearclip"),
    "maxiters": _ITERATIVE, "maxrej": _ITERATIVE, "revert_on_nkeep": _ITERATIVE,
    "nkeep": ("sigclip", "avsigclip", "ccdclip", "crreject", "linearclip", "pclip"),
    "stdfunc": ("sigclip",), "ddof": ("sigclip",),
    "nlow": ("minmax",), "nhigh": ("minmax",),
    "rdnoise": _CCD, "gain": _CCD, "snoise": _CCD,
    "sigscale": ("ccdclip", "crreject", "avsigclip"),
    "pclip": ("pclip",),
    "low_scale": ("linearclip",), "low": ("linearclip",), "upp_scale": ("linearclip",),
    "upp": ("linearclip",),
    "grow": _ANY,
}

#: IRAF parameter -> IRAF rejection algorithms that use it.
IRAF_USES: dict[str, tuple[str, ...]] = {
    "lsigma": _SIGMA, "hsigma": _SIGMA,
    "mclip": ("sigclip", "avsigclip", "ccdclip", "crreject"),
    "nkeep": ("sigclip", "avsigclip", "ccdclip", "crreject", "pclip"),
    "nlow": ("minmax",), "nhigh": ("minmax",),
    "rdnoise": _CCD, "gain": _CCD, "snoise": _CCD,
    "sigscale": ("ccdclip", "crreject", "avsigclip"),
    "pclip": ("pclip",),
    "grow": _ANY,
}


def given_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """Destinations of the options present on the command line (not their defaults)."""
    saved = {}
    for action in parser._actions:  # noqa: SLF001 - argparse has no public way to do this
        saved[action] = action.default
        action.default = argparse.SUPPRESS
    try:
        ns, _ = parser.parse_known_args(list(argv))
    finally:
        for action, default in saved.items():
            action.default = default
    return set(vars(ns))


def _option_name(parser: argparse.ArgumentParser, dest: str) -> str:
    for action in parser._actions:  # noqa: SLF001
        if action.dest == dest and action.option_strings:
            return max(action.option_strings, key=len)
    return "--" + dest.replace("_", "-")


def unused_combine_options(parser: argparse.ArgumentParser, given: Iterable[str], reject: str,
                           extra: Mapping[str, str] = {}) -> list[str]:
    """One message per given ``combine`` option that does nothing for ``reject``.

    ``extra`` maps more dests to a reason (e.g. ``products`` without ``--diagnostics``).
    """
    out = []
    given = set(given)
    for dest in [d for d in COMBINE_USES if d in given] + [d for d in extra if d in given]:
        uses = COMBINE_USES.get(dest)
        if uses is not None and reject not in uses:
            what = f"--reject {reject}" if reject != "none" else "no --reject"
            out.append(f"{_option_name(parser, dest)} does nothing with {what} "
                       f"(it is used by --reject {', '.join(uses)})")
        elif dest in extra:
            out.append(f"{_option_name(parser, dest)} does nothing {extra[dest]}")
    return out


def unused_iraf_parameters(kwargs: Mapping[str, Any], reject: str) -> list[str]:
    """One message per given IRAF parameter that does nothing for ``reject``."""
    out = []
    for name in [p for p in IRAF_USES if p in kwargs]:
        uses = IRAF_USES.get(name)
        if uses is not None and reject not in uses:
            out.append(f"{name} does nothing with reject={reject} (it is used by reject={', '.join(uses)})")
    return out
