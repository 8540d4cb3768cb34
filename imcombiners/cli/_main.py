"""Dispatch of the console script and its error/exit-status contract."""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any, Sequence

from ._errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CLIError
from ._parser import COMMANDS, PRODUCTS, build_parser, parse_memory, parse_size, stderr_is_terminal

__all__ = ["main"]


def _say(args: Any, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def _progress_wanted(args: Any) -> bool:
    if getattr(args, "quiet", False):
        return False
    if args.progress is None:
        return stderr_is_terminal()
    return bool(args.progress)


def _combine_params(args: Any) -> dict[str, Any]:
    keys = ("lsigma", "hsigma", "mclip", "maxiters", "nkeep", "maxrej", "nlow", "nhigh", "rdnoise",
            "gain", "snoise", "sigscale", "pclip", "low_scale", "low", "upp_scale", "upp", "grow",
            "stdfunc", "revert_on_nkeep", "ddof", "cutoff", "max_outliers", "significance")
    return {k: getattr(args, k) for k in keys}


def _thresholds(args: Any) -> tuple[float, float] | None:
    lo, hi = args.lthreshold, args.hthreshold
    if lo is None and hi is None:
        return None
    lo = float("-inf") if lo is None else lo
    hi = float("inf") if hi is None else hi
    if lo > hi:
        raise CLIError(f"--lthreshold ({lo}) is greater than --hthreshold ({hi})")
    return (lo, hi)


def _bits(option: str, text: str | None) -> int | None:
    """``--bad-bits``/``--nodata-bit``: ``5``, ``0x5``, ``1+4`` -> an int."""
    if text is None:
        return None
    try:
        return sum(int(part.strip(), 0) for part in text.replace("|", "+").split("+"))
    except ValueError:
        raise CLIError(f"{option}: expected a number (0x.. accepted) or a sum of bits like 1+4, got '{text}'") from None


def _plane_options(args: Any) -> dict[str, Any]:
    """The survey-plane options checked before any input is read."""
    from imcombiners._planes import plane_spec, variance_spec

    if args.sci is not None and args.hdu is not None:
        raise CLIError("--sci and --hdu both name the image extension: give one of them")
    try:
        variance = None if args.var is None else variance_spec(_spec_text(args.var), "--var")
        dq = None if args.dq is None else plane_spec(_spec_text(args.dq), "dq", "--dq")
    except (TypeError, ValueError) as exc:
        text = str(exc)
        if "is not known" in text:  # the library's advice is Python syntax: give the option's
            text = text.split("; give it as")[0] + f"; give it as --var {args.var.split(',')[0]},stddev (or variance, inverse_variance)"
        raise CLIError(text) from None
    bad_bits = _bits("--bad-bits", args.bad_bits)
    nodata_bit = _bits("--nodata-bit", args.nodata_bit)
    for option, value in (("--bad-bits", bad_bits), ("--nodata-bit", nodata_bit)):
        if value is not None and dq is None:
            raise CLIError(f"{option} is about DQ bits: give --dq EXTNAME")
    return dict(variance=variance, dq=dq, bad_bits=bad_bits, nodata_bit=nodata_bit, offsets=args.offsets)


def _spec_text(text: str) -> Any:
    """``VAR`` -> "VAR"; ``NAME,stddev`` -> ("NAME", "stddev"); ``SCI,2`` stays a name + version."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 2 and not parts[1].isdigit():
        return (parts[0], parts[1])
    return text.strip()


def _job_from_args(args: Any) -> dict[str, Any]:
    """Everything ``combine`` and ``plan`` share: inputs checked, options resolved."""
    from ._check import inspect_inputs
    from ._inputs import expand_inputs
    from ._rejection import build_rejectors, parse_factor

    from ._cluster import cluster_spec

    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    if args.ddof < 0:
        raise CLIError(f"--ddof must be 0 or more, got {args.ddof}")
    cluster = cluster_spec(args)  # option errors before reading any input
    planes = _plane_options(args)
    paths = expand_inputs(args.inputs)
    info = inspect_inputs(paths, args.sci if args.sci is not None else args.hdu, same_shape=args.offsets is None)
    weight = args.weight
    if weight is not None and weight.strip().lower() in ("ivar", "inverse_variance"):
        if planes["variance"] is None:
            raise CLIError("--weight ivar weights by the inverse variance: give --var EXTNAME")
        weights: Any = "inverse_variance"
    else:
        weights = parse_factor("--weight", weight, info.n, paths=info.files, hdus=info.hdus)
    return dict(
        **planes,
        info=info,
        method=args.method,
        rejectors=build_rejectors(args.reject, _combine_params(args)),
        reject=args.reject,
        params=_combine_params(args),
        thresholds=_thresholds(args),
        zero=parse_factor("--zero", args.zero, info.n, paths=info.files, hdus=info.hdus),
        scale=parse_factor("--scale", args.scale, info.n, paths=info.files, hdus=info.hdus),
        weights=weights,
        statsec=args.statsec,
        blank=args.blank,
        ddof=args.ddof,
        memory_limit=parse_memory(args.memory_limit),
        scheduler=args.scheduler,
        workers=args.workers,
        cluster=cluster,
    )


def _products(args: Any) -> dict[str, str]:
    if not args.diagnostics:
        return {}
    names = [p.strip() for p in args.products.split(",") if p.strip()]
    bad = [p for p in names if p not in PRODUCTS]
    if bad:
        raise CLIError(f"--products: unknown product '{bad[0]}' (accepted: {', '.join(PRODUCTS)})")
    if os.path.exists(args.diagnostics) and not os.path.isdir(args.diagnostics):
        raise CLIError(f"--diagnostics '{args.diagnostics}' is a file; give a directory")
    return {p: os.path.join(args.diagnostics, f"{p}.fits") for p in names}


def _warn(args: Any, text: str) -> None:
    print(f"imcombiners {args.command}: warning: {text}", file=sys.stderr, flush=True)


def _warn_unused(args: Any) -> None:
    """One line per option that does nothing for the chosen method."""
    from ._unused import given_options, unused_combine_options

    parser = getattr(args, "parser", None) or build_parser(args.command)
    sub = parser.subparsers[args.command]
    given = given_options(sub, getattr(args, "argv", [])[1:])
    extra = {}
    if args.command == "combine":
        if not args.diagnostics:
            extra["products"] = "without --diagnostics"
        if args.output.rstrip("/").endswith(".zarr"):
            extra["dtype"] = "with a .zarr output (the zarr arrays keep the engine's type)"
    if args.scheduler not in (None, "local"):
        extra["workers"] = "with a --scheduler address (the cluster's workers are used)"
    if args.method == "variance":
        given.discard("ddof")  # the variance's own degrees of freedom
    for line in unused_combine_options(sub, given, args.reject, extra):
        _warn(args, line)


def cmd_combine(args: Any) -> int:
    from ._inputs import file_of
    from ._outputs import check_outputs, created_directory

    job = _job_from_args(args)
    products = _products(args)
    info = job.pop("info")
    outputs = {"-o": args.output, "--preview": args.preview or ""}
    outputs.update({f"--products {k}": v for k, v in products.items()})
    check_outputs(outputs, [file_of(p) for p in info.paths], overwrite=args.overwrite,
                  directories=[args.diagnostics] if products else [])
    _warn_unused(args)
    from imcombiners._malloc import fix_mmap_threshold

    from ._engine import combine_to_files  # after the checks: bad input fails fast

    fix_mmap_threshold()  # freed tile buffers leave the process: --memory-limit measures live data
    t0 = time.perf_counter()
    with created_directory(args.diagnostics if products else None):
        outcome = combine_to_files(
            info, args.output, products=products, preview=args.preview, dtype=args.dtype,
            progress=_progress_wanted(args), overwrite=args.overwrite, log=lambda s: _say(args, s),
            mef=args.mef, **job,
        )
    dt = time.perf_counter() - t0
    # the output's shape: the canvas with --offsets wcs (the Dask plan's), else the inputs'
    plan_shape = getattr(outcome.plan, "shape", None)
    shape = "x".join(str(s) for s in (plan_shape[1:] if plan_shape is not None else info.shape))
    _say(args, f"wrote {args.output} ({shape}, {info.n} images combined) in {dt:.1f} s")
    for name, path in outcome.products.items():
        _say(args, f"  {name:8s} {path}")
    if args.preview:
        _say(args, f"  preview  {args.preview}")
    return EXIT_OK


def cmd_plan(args: Any) -> int:
    job = _job_from_args(args)
    _warn_unused(args)
    info = job.pop("info")
    from ._engine import plan_text

    print(plan_text(info, **job))
    return EXIT_OK


def cmd_imcombine(args: Any) -> int:
    from ._check import inspect_inputs
    from ._inputs import expand_inputs, file_of
    from ._iraf import parse_iraf_call
    from ._outputs import check_outputs
    from ._unused import unused_iraf_parameters

    if not args.params:
        raise CLIError("usage: imcombiners imcombine INPUT OUTPUT [name=value ...]")
    call = parse_iraf_call(args.params)
    # IRAF combines images of different sizes (each at its offset on the output)
    info = inspect_inputs(expand_inputs(call.inputs), view="iraf", same_shape=False)
    inputs = [file_of(p) for p in info.paths]
    runs = [(call, info)]
    if call.kwargs.get("project"):  # one output (and product) per input: IRAF's lists
        from ._project import projected_calls

        runs = projected_calls(call, info)
    for sub, _ in runs:
        outputs = {"output": sub.output, **{f"{k}=": v for k, v in sub.products.items()}}
        check_outputs(outputs, inputs, overwrite=args.overwrite)
    if call.logfile and call.logfile != "STDOUT":  # appended to, so it may exist
        check_outputs({"logfile=": call.logfile}, inputs, overwrite=True)
    for line in unused_iraf_parameters(call.kwargs, call.kwargs.get("reject", "none")):
        _warn(args, line)
    from ._iraf_run import run_imcombine

    for sub, sub_info in runs:
        t0 = time.perf_counter()
        run_imcombine(sub, overwrite=args.overwrite, quiet=args.quiet, info=sub_info)
        if call.logfile != "STDOUT":
            _say(args, f"wrote {sub.output} in {time.perf_counter() - t0:.1f} s")
    return EXIT_OK


def cmd_demo(args: Any) -> int:
    from imcombiners.demo import DEFAULT_SEED, run_demo

    shape = parse_size(args.size)
    if args.frames < 6:
        raise CLIError(f"--frames must be at least 6, got {args.frames}")
    from imcombiners._malloc import fix_mmap_threshold

    from ._outputs import created_directory

    fix_mmap_threshold()
    t0 = time.perf_counter()
    with created_directory(args.dir):
        res = run_demo(
            args.dir, n_frames=args.frames, shape=shape, dtype=args.dtype,
            memory_limit=parse_memory(args.memory_limit),
            seed=DEFAULT_SEED if args.seed is None else args.seed,
            progress=_progress_wanted(args), log=lambda s: _say(args, s),
        )
    total = time.perf_counter() - t0
    _say(args, "")
    _say(args, f"master image        {res.master}")
    _say(args, f"rejection map       {res.nrej}")
    _say(args, f"quick-look PNG      {res.preview}")
    _say(args, f"raw frames          {os.path.dirname(res.raw_frames[0])}/ ({len(res.raw_frames)} files)")
    _say(args, f"total time          {total:.1f} s")
    return EXIT_OK


def _imcombine_flags(args: Any, extras: list[str]) -> list[str]:
    """Options may follow IRAF's name=value list; take them out of the parameters."""
    flags = {"-f": "overwrite", "--overwrite": "overwrite", "-q": "quiet", "--quiet": "quiet",
             "--traceback": "traceback"}
    kept = []
    for token in list(args.params) + list(extras):
        if token in flags:
            setattr(args, flags[token], True)
        elif token in ("-h", "--help"):
            raise SystemExit(_print_help("imcombine"))
        else:
            kept.append(token)
    args.params = kept
    return []


def _print_help(command: str) -> int:
    build_parser(command).subparsers[command].print_help()
    return 0


_COMMANDS = {"combine": cmd_combine, "plan": cmd_plan, "imcombine": cmd_imcombine, "demo": cmd_demo}


def _one_line(exc: BaseException) -> str:
    from ._outputs import public_text

    text = public_text(str(exc).strip()) or type(exc).__name__
    first = text.splitlines()[0]
    return first if len(text.splitlines()) == 1 else first + " ..."


def _io_message(exc: OSError) -> str:
    from ._outputs import public_text

    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename:
        return public_text(f"cannot access '{exc.filename}': {what}")
    return _one_line(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; returns the exit status (0 ok, 1 failed, 2 bad input).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    _freeze_at_exit()
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        return _main(argv)


_exit_hook = False


def _freeze_at_exit() -> None:
    """At interpreter exit, freeze the objects the garbage collector tracks.

    Why: a run ends with NumPy, the kernels and the engine loaded, and the interpreter's
    last garbage collections walk every object they made: 5-15 ms of a small combine
    on this project's 2-core machine. Frozen objects are skipped by those collections;
    modules are still cleared and everything is released with the process. Registered
    as an atexit handler (the other handlers still run), so an in-process caller of
    :func:`main` keeps its collector as it was until its own exit.
    """
    global _exit_hook
    if not _exit_hook:
        import atexit
        import gc

        atexit.register(gc.freeze)
        _exit_hook = True


def _one_line_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                      line: Any = None) -> None:
    """Library warnings (e.g. a repaired header card) as ``imcombiners: warning: ...`` lines."""
    from ._outputs import public_text

    text = public_text(str(message).strip()).splitlines()
    print(f"imcombiners: warning: {text[0] if text else category.__name__}", file=sys.stderr, flush=True)


def _print_traceback() -> None:
    import traceback  # only for --traceback: not part of every start-up

    traceback.print_exc()


def _main(argv: list[str]) -> int:
    # only the chosen command's options are built (the first word; none for --version):
    # the main parser has no option taking a value, so that word is the command
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    prog = "imcombiners"
    want_tb = "--traceback" in argv
    try:
        args, extras = parser.parse_known_args(argv)
        args.argv = argv
        args.parser = parser
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        prog = f"imcombiners {args.command}"
        if args.command == "imcombine":
            extras = _imcombine_flags(args, extras)
        if extras:
            parser.subparsers[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
        return _COMMANDS[args.command](args)
    except CLIError as exc:
        if want_tb:
            _print_traceback()
        print(f"{getattr(exc, 'prog', prog)}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        # reading or writing failed during the run (inputs and output paths were checked
        # before it started): an I/O failure, exit status 1
        if want_tb:
            _print_traceback()
        print(f"{prog}: error: {_io_message(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except (ValueError, TypeError, MemoryError) as exc:
        # The library validates parameters with clear messages: those are bad input.
        if want_tb:
            _print_traceback()
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into a line
        if want_tb:
            _print_traceback()
        print(f"{prog}: error: {type(exc).__name__}: {_one_line(exc)} (rerun with --traceback "
              "for details)", file=sys.stderr)
        return EXIT_FAILURE
