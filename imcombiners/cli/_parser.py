"""Argument parser of the ``imcombiners`` console script."""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from . import _help
from ._cluster import add_cluster_options
from ._sizes import parse_memory
from ._errors import CLIError

__all__ = ["build_parser", "METHODS", "REJECTS", "FACTOR_NAMES", "parse_memory"]

METHODS = ("mean", "average", "median", "lmedian", "sum", "min", "max", "variance", "wavg")
REJECTS = ("none", "sigclip", "avsigclip", "ccdclip", "crreject", "linearclip", "minmax", "pclip",
           "winsorized", "gesd", "linearfit")
FACTOR_NAMES = ("none", "mean", "median", "mode", "sigclip_mean", "sigclip_median", "exposure", "noise")
PRODUCTS = ("nrej", "nused", "std", "flags", "low", "upp", "nit", "mask")
DEFAULT_PRODUCTS = ("nrej", "nused", "std", "flags")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (our exit-status contract) instead of usage dumps."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        err = CLIError(f"{message} (see '{self.prog} --help')")
        err.prog = self.prog  # type: ignore[attr-defined]
        raise err


class _ManFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=88)


def _version() -> str:
    """The installed version (what ``importlib.metadata.version("imcombiners")`` says)."""
    found = _dist_info_version()
    if found is not None:
        return found
    try:
        from importlib.metadata import version

        return version("imcombiners")
    except Exception:  # not installed (running from a source tree)
        try:
            from imcombiners import __version__

            return str(__version__)
        except Exception:
            return "unknown"


def _dist_info_version() -> str | None:
    """``Version:`` of the first ``imcombiners-*.dist-info`` on ``sys.path``, as
    importlib.metadata finds it; None when another layout comes first (an ``.egg-info``)
    or none is found: then importlib.metadata answers.

    Why: importing importlib.metadata (email, zipfile, csv, pathlib...) is ~115 M of the
    ~220 M instructions of ``imcombiners --version``.
    """
    for entry in sys.path:
        folder = entry or "."
        try:
            names = sorted(os.listdir(folder))
        except OSError:  # a zip file or a missing directory
            continue
        for name in names:
            low = name.lower()
            if not low.startswith("imcombiners-"):
                continue
            if low.endswith(".egg-info"):
                return None
            if low.endswith(".dist-info"):
                try:
                    with open(os.path.join(folder, name, "METADATA"), encoding="utf-8") as fh:
                        for line in fh:
                            if line.startswith("Version:"):
                                return line.split(":", 1)[1].strip()
                            if not line.strip():  # the end of the headers
                                break
                except OSError:
                    pass
    return None


class _VersionAction(argparse.Action):
    """``--version``: the version is looked up only when asked for (importlib.metadata
    is a few milliseconds of every start-up otherwise)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> NoReturn:  # noqa: D102
        print(f"imcombiners {_version()}")
        parser.exit()


def _add_inputs(p: argparse.ArgumentParser, *, output: bool) -> None:
    g = p.add_argument_group("INPUT / OUTPUT")
    g.add_argument("inputs", nargs="+", metavar="INPUTS",
                   help="FITS files, globs ('raw/*.fits'), @list files or comma lists")
    if output:
        g.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                       help="output image: FITS (.fits) or zarr (.zarr)")
    g.add_argument("--hdu", default=None, metavar="N|NAME[,VER]",
                   help="HDU to read from every input without an IRAF [..] name: index, EXTNAME "
                   "or EXTNAME,EXTVER (default: the primary if it holds an image, else the first "
                   "image extension)")


def _add_combine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("COMBINING")
    g.add_argument("-m", "--method", "--combine", dest="method", default="median", choices=METHODS,
                   metavar="METHOD",
                   help="mean (average), median, lmedian, sum, min, max, variance, wavg "
                   "(default: median)")
    g.add_argument("--lthreshold", type=float, default=None, metavar="LO",
                   help="ignore samples below LO (raw values)")
    g.add_argument("--hthreshold", type=float, default=None, metavar="HI",
                   help="ignore samples above HI (raw values)")
    g.add_argument("--zero", default="none", metavar="HOW",
                   help="additive offset per frame: none, mean, median, mode, sigclip_mean, "
                   "sigclip_median, !KEYWORD (header), numbers 'z1,z2,...' or @file (default: none)")
    g.add_argument("--scale", default="none", metavar="HOW",
                   help="divide each frame by this, same choices as --zero plus exposure "
                   "(EXPTIME relative to the first image) (default: none)")
    g.add_argument("--weight", default="none", metavar="HOW",
                   help="weights for mean/wavg, same choices as --scale, noise (inverse variance "
                   "from each frame's robust noise estimate) or ivar (inverse variance, needs --var) "
                   "(default: none)")
    g.add_argument("--statsec", default=None, metavar="SECTION",
                   help="region for the zero/scale/weight statistics, IRAF syntax [x1:x2,y1:y2]")
    g.add_argument("--blank", type=float, default=None, metavar="VALUE",
                   help="value where no sample is left (default: NaN; sum: 0)")

    r = p.add_argument_group("REJECTION")
    r.add_argument("-r", "--reject", default="none", choices=REJECTS, metavar="ALGORITHM",
                   help="none, sigclip, avsigclip, ccdclip, crreject, linearclip, minmax, "
                   "pclip, winsorized, gesd, linearfit (default: none)")
    r.add_argument("--lsigma", type=float, default=None, metavar="K",
                   help="low clipping factor (3; linearfit: 5)")
    r.add_argument("--hsigma", type=float, default=None, metavar="K",
                   help="high clipping factor (3; linearfit: 5)")
    r.add_argument("--mclip", action=argparse.BooleanOptionalAction, default=True,
                   help="median (default) or mean (--no-mclip) as clipping centre")
    r.add_argument("--maxiters", type=int, default=None, metavar="N",
                   help="maximum clipping passes (library default)")
    r.add_argument("--nkeep", type=int, default=1, metavar="N",
                   help="keep at least N samples (N<0: reject at most -N) (1)")
    r.add_argument("--maxrej", type=int, default=None, metavar="N",
                   help="reject at most N samples per pixel")
    r.add_argument("--stdfunc", choices=("std", "mad", "iraf"), default=None,
                   help="sigclip spread about the clipping centre: std (default; n - --ddof), mad "
                        "(robust) or iraf (n - 1)")
    r.add_argument("--ddof", type=int, default=0, metavar="N",
                   help="delta degrees of freedom of the sigclip spread, sqrt(sum(d^2)/(n - N)), and "
                   "of --method variance (0; Siril and IRAF's sigma use 1)")
    r.add_argument("--addback", dest="revert_on_nkeep", action="store_false", default=None,
                   help="when nkeep/maxrej would be broken, restore the least deviant samples "
                   "(IRAF) instead of undoing the whole pass")
    r.add_argument("--nlow", type=float, default=1, metavar="N", help="minmax: low samples (1)")
    r.add_argument("--nhigh", type=float, default=1, metavar="N", help="minmax: high samples (1)")
    r.add_argument("--rdnoise", type=float, default=0.0, metavar="E", help="ccdclip: read noise, e- (0)")
    r.add_argument("--gain", type=float, default=1.0, metavar="G", help="ccdclip: gain, e-/ADU (1)")
    r.add_argument("--snoise", type=float, default=0.0, metavar="F", help="ccdclip: sensitivity noise (0)")
    r.add_argument("--sigscale", type=float, default=0.1, metavar="F",
                   help="ccdclip: scale tolerance of the noise model (0.1)")
    r.add_argument("--pclip", type=float, default=-0.5, metavar="P", help="pclip parameter (-0.5)")
    r.add_argument("--low-scale", type=float, default=1.0, metavar="A", help="linearclip (1)")
    r.add_argument("--low", type=float, default=0.0, metavar="B", help="linearclip (0)")
    r.add_argument("--upp-scale", type=float, default=1.0, metavar="A", help="linearclip (1)")
    r.add_argument("--upp", type=float, default=0.0, metavar="B", help="linearclip (0)")
    r.add_argument("--cutoff", type=float, default=1.5, metavar="C",
                   help="winsorized: winsorization cutoff in sigma (1.5)")
    r.add_argument("--max-outliers", type=float, default=0.3, metavar="F",
                   help="gesd: largest outlier fraction (0.3)")
    r.add_argument("--significance", type=float, default=0.05, metavar="ALPHA",
                   help="gesd: significance level of the test (0.05)")
    r.add_argument("--grow", type=float, default=0.0, metavar="R",
                   help="also reject samples within R pixels of a rejected one (0)")

    sv = p.add_argument_group("SURVEY PLANES (multi-extension inputs)")
    sv.add_argument("--sci", default=None, metavar="EXTNAME",
                    help="extension holding the image in every input (e.g. SCI); same as --hdu")
    sv.add_argument("--var", default=None, metavar="EXTNAME[,KIND]",
                    help="extension holding each sample's variance: VAR; ERR (squared on read); "
                    "WHT or IVAR (inverse variance); another name with its kind: NAME,stddev")
    sv.add_argument("--dq", default=None, metavar="EXTNAME",
                    help="extension holding integer data-quality bits (e.g. DQ)")
    sv.add_argument("--bad-bits", default=None, metavar="BITS",
                    help="DQ bits that exclude a sample: a number (0x.. accepted) or a sum of bits "
                    "'1+4+16' (default: every bit; 0: none, the DQ is only propagated)")
    sv.add_argument("--nodata-bit", default=None, metavar="BIT",
                    help="bit set in the output DQ where no sample is left (default: the top bit)")
    sv.add_argument("--offsets", default=None, choices=("wcs",), metavar="wcs",
                    help="place dithered frames by their WCS (nearest whole pixel; frames rotated or "
                    "scaled relative to the first are refused: resample them first)")
    sv.add_argument("--mef", action=argparse.BooleanOptionalAction, default=None,
                    help="write the survey layout: a header-only primary HDU, then SCI, VAR, DQ, WHT "
                    "extensions (default: on with --var or --dq)")

    e = p.add_argument_group("EXECUTION")
    e.add_argument("--memory-limit", default=None, metavar="BYTES",
                   help="peak memory per worker, e.g. 2GB or 512MiB (default: engine default)")
    e.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running dask.distributed scheduler: its address (tcp://host:8786) or "
                   "scheduler file (JSON), or 'local' for a LocalCluster; default: threads in "
                   "this process")
    e.add_argument("--workers", type=int, default=None, metavar="N",
                   help="threads (default scheduler) or worker processes (--scheduler local)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("OUTPUT PRODUCTS")
    g.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="output pixel type (default: the engine's workspace type)")
    g.add_argument("--diagnostics", default=None, metavar="DIR",
                   help="write diagnostic images into DIR (see DIAGNOSTICS)")
    g.add_argument("--products", default=",".join(DEFAULT_PRODUCTS), metavar="LIST",
                   help=f"diagnostics to write, from {','.join(PRODUCTS)} "
                   f"(default: {','.join(DEFAULT_PRODUCTS)})")
    g.add_argument("--preview", default=None, metavar="PNG",
                   help="write a PNG quick-look: first input and master (grey, zscale), samples "
                   "not used per pixel; pixel axes and colour bars")
    g.add_argument("-f", "--overwrite", action="store_true", help="replace existing outputs")


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("GENERAL")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: only when stderr is a terminal)")
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    g.add_argument("--traceback", action="store_true", help="show the full traceback of errors")
    g.add_argument("-h", "--help", action="help", help="show this page and exit")


#: The commands, in the order --help lists them.
COMMANDS = ("combine", "plan", "imcombine", "demo")


def build_parser(command: str | None = "all") -> argparse.ArgumentParser:
    """The ``imcombiners`` parser with its four commands.

    Parameters
    ----------
    command : str or None
        The command whose options are added (``"all"``: every command's); the others
        are listed by name only, which is all the main parser needs to choose one, list
        them or refuse an unknown one. Why: the options of all four commands are ~14 M
        instructions of every start-up, and a run uses one command.
    """
    parser = _Parser(prog="imcombiners", description=_help.MAIN_DESCRIPTION, epilog=_help.MAIN_EPILOG,
                     formatter_class=_ManFormatter, usage=argparse.SUPPRESS)
    parser._optionals.title = "OPTIONS"
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                                title="COMMAND SUMMARY")
    parser.subparsers = sub.choices  # type: ignore[attr-defined]  # for errors about extras

    kw = dict(formatter_class=_ManFormatter, add_help=False)
    full = set(COMMANDS) if command == "all" else {command}
    c = sub.add_parser("combine", prog="imcombiners combine", help="combine images", description=_help.COMBINE_DESCRIPTION,
                       epilog=_help.COMBINE_EPILOG, usage="imcombiners combine INPUTS... -o OUTPUT [options]", **kw)
    if "combine" in full:
        _add_inputs(c, output=True)
        _add_combine_options(c)
        add_cluster_options(c)
        _add_run_options(c)
        _add_common(c)

    pl = sub.add_parser("plan", prog="imcombiners plan", help="dry run", description=_help.PLAN_DESCRIPTION,
                        usage="imcombiners plan INPUTS... [options]", **kw)
    if "plan" in full:
        _add_inputs(pl, output=False)
        _add_combine_options(pl)
        _add_common(pl)

    i = sub.add_parser("imcombine", prog="imcombiners imcombine", help="IRAF task form", description=_help.IMCOMBINE_DESCRIPTION,
                       epilog=_help.IMCOMBINE_EPILOG,
                       usage="imcombiners imcombine INPUT OUTPUT [name=value ...]", **kw)
    if "imcombine" in full:
        i.add_argument("params", nargs=argparse.REMAINDER, metavar="INPUT OUTPUT [name=value ...]",
                       help="IRAF parameters (see PARAMETERS)")
        g = i.add_argument_group("GENERAL")
        g.add_argument("-f", "--overwrite", action="store_true", help="replace existing outputs")
        g.add_argument("--traceback", action="store_true", help="show the full traceback of errors")
        g.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
        g.add_argument("-h", "--help", action="help", help="show this page and exit")

    d = sub.add_parser("demo", prog="imcombiners demo", help="synthetic demo", description=_help.DEMO_DESCRIPTION,
                       usage="imcombiners demo [options]", **kw)
    if "demo" in full:
        g = d.add_argument_group("OPTIONS")
        g.add_argument("--dir", default="imcombiners-demo", metavar="DIR",
                       help="where to write (default: ./imcombiners-demo)")
        g.add_argument("--frames", type=int, default=24, metavar="N", help="number of frames (24)")
        g.add_argument("--size", default="1024x1024", metavar="HxW", help="frame shape (1024x1024)")
        g.add_argument("--dtype", choices=("uint16", "float32"), default="uint16",
                       help="raw pixel type (uint16, written with BZERO=32768)")
        g.add_argument("--memory-limit", default=None, metavar="BYTES",
                       help="engine memory limit (default: a quarter of the stack)")
        g.add_argument("--seed", type=int, default=None, metavar="S", help="random seed")
        _add_common(d)
    return parser


def parse_size(text: str) -> tuple[int, int]:
    """``1024``, ``512x2048`` -> (H, W)."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise CLIError(f"--size: expected H or HxW (e.g. 1024x1024), got '{text}'") from None
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 16:
        raise CLIError(f"--size: expected HxW with both at least 16, got '{text}'")
    return dims[0], dims[1]


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
