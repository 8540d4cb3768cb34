#!/usr/bin/env python3
"""Run every benchmark scenario of the speed issue, in one run, and write RESULTS.md.

    python benchmarks/run.py                      # full sizes -> benchmarks/RESULTS.md
    python benchmarks/run.py --quick              # small sizes -> benchmarks/RESULTS-quick.md
    python benchmarks/run.py --scenarios median,sigclip-*   --repeats 7
    python benchmarks/run.py --skip-ours          # peers only (e.g. to check the machine)
    python benchmarks/run.py --list               # scenario ids

Peers: NumPy, bottleneck, astropy, ccdproc (in this process); PyPI imcombiners 0.1.1
(built by `bash benchmarks/setup_peers.sh` into benchmarks/.venv-peers, run through
peer_imc011.py); IRAF 2.17 through irafcl when installed (`apt-get install iraf
iraf-noao`). Nothing is installed by this script. Data are generated deterministically
and cached in benchmarks/data/ (about 3 GB at full size: stacks as .npy, 20 + 60 FITS).
Raw results also go to benchmarks/results/run-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import gc
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

# run as a script: its own directory (benchmarks/) is first on sys.path
import _data
import _iraf
import _mem
import _report
import _scenarios as S
from _common import (BENCH_DIR, PEER_PYTHON, RESULTS_DIR, iraf_version, machine_info, owned_blocks, package_versions,
                     use_repo_package)
from _imc011 import NOT_BUILT, PeerDriver
from _timing import Impl, run_interleaved


class Ctx:
    def __init__(self, driver: PeerDriver, tmpdir: str) -> None:
        self.driver = driver
        self.tmpdir = tmpdir
        self.npy: str | None = None


def log(msg: str) -> None:
    print(msg, flush=True)


def _impl_record(i: Impl) -> dict:
    return {"name": i.name, "family": i.family, "threads": i.threads, "note": i.note,
            "is_target": i.is_target, "is_reference": i.is_reference, "warmup": i.warmup,
            "times": i.times, "cpus": i.cpus, "stats": i.stats(), "error": i.error,
            "mismatch_pct": i.mismatch_pct, "mismatch_note": i.mismatch_note,
            "modified_input": i.modified_input}


def _filter(impls: list[Impl], args) -> list[Impl]:
    keep = []
    for i in impls:
        essential = i.family == "floor" or i.is_target or i.is_reference
        if args.skip_ours and i.family == "ours":
            continue
        if args.skip_imc011 and i.family == "imc011":
            continue
        if args.only and not essential and not re.search(args.only, i.name):
            continue
        if args.skip and not essential and re.search(args.skip, i.name):
            continue
        keep.append(i)
    return keep


def _base_record(sc: S.Scenario, shape) -> dict:
    return {"id": sc.id, "title": sc.title, "kind": sc.kind, "shape": list(shape),
            "target": sc.target, "target_kind": sc.target_kind,
            "target_value": sc.target_value, "imc011_factor": sc.imc011_factor,
            "load": [os.getloadavg()[0], None], "notes": []}


def run_stack(sc: S.Scenario, shape, ctx: Ctx, args) -> dict:
    rec = _base_record(sc, shape)
    t0 = time.perf_counter()
    log(f"  generating/loading stack {shape} ...")
    ctx.npy = str(_data.stack_path(*shape, seed=args.seed))
    stack = _data.load_stack(*shape, seed=args.seed)
    rec["bytes"] = stack.nbytes
    impls = _filter(S.stack_impls(sc, stack, ctx), args)
    if sc.target_kind == "floor":
        impls[0].is_target = True  # the floor itself is the target reference
    run_interleaved(impls, repeats=args.repeats, stack=stack, tol=args.tol,
                    slow_s=args.slow_s, slow_repeats=args.slow_repeats, log=log)
    rec["impls"] = [_impl_record(i) for i in impls]
    del stack, impls
    gc.collect()
    if not ctx.driver.error:
        try:
            ctx.driver.unload()
        except Exception:  # noqa: BLE001
            pass
    rec["elapsed"] = time.perf_counter() - t0
    _report.evaluate_stack(rec)
    return rec


def run_imcombine(sc: S.Scenario, shape, ctx: Ctx, args) -> dict:
    rec = _base_record(sc, shape)
    t0 = time.perf_counter()
    log(f"  generating/loading {shape[0]} FITS files ...")
    files = _data.fits_files(*shape, seed=args.seed)
    _data.warm_page_cache(files)
    rec["bytes"] = shape[0] * shape[1] * shape[2] * 4
    impls = _filter(S.imcombine_impls(files, ctx), args)
    run_interleaved(impls, repeats=args.repeats, stack=None, tol=args.tol,
                    slow_s=args.slow_s, slow_repeats=args.slow_repeats, log=log)
    rec["impls"] = [_impl_record(i) for i in impls]
    rec["notes"].append("IRAF parameters: " + ", ".join(
        f"{k}={v}" for k, v in S.IRAF_PARAMS.items()) + "; all others IRAF defaults. "
        "mismatch % is against IRAF's output when IRAF ran.")
    rec["elapsed"] = time.perf_counter() - t0
    _report.evaluate_stack(rec)
    return rec


def _python_for(key: str) -> str | None:
    if key == "venv":
        return str(PEER_PYTHON) if PEER_PYTHON.exists() else None
    return sys.executable


def run_memory(sc: S.Scenario, shape, ctx: Ctx, args) -> dict:
    rec = _base_record(sc, shape)
    t0 = time.perf_counter()
    npy = str(_data.stack_path(*shape, seed=args.seed))
    rec["bytes"] = shape[0] * shape[1] * shape[2] * 4
    rows = []
    for case, key, ours, what in S.MEMORY_CASES:
        if (args.skip_ours and ours) or (args.skip_imc011 and key == "venv"):
            continue
        py = _python_for(key)
        log(f"    memory {case} ...")
        res = (_mem.run_child(case, py, npy=npy) if py else {"case": case, "error": NOT_BUILT})
        res.update({"what": what, "ours": ours})
        rows.append(res)
    rec["rows"] = rows
    rec["elapsed"] = time.perf_counter() - t0
    return rec


def run_ooc(sc: S.Scenario, shape, ctx: Ctx, args) -> dict:
    rec = _base_record(sc, shape)
    t0 = time.perf_counter()
    log(f"  generating/loading {shape[0]} FITS files {shape[1]}x{shape[2]} ...")
    files = _data.fits_files(*shape, seed=args.seed)
    _data.warm_page_cache(files)
    lst = os.path.join(ctx.tmpdir, "ooc_files.txt")
    with open(lst, "w") as f:
        f.write("\n".join(files) + "\n")
    n, h, w = shape
    rec.update({"n": n, "h": h, "w": w, "bytes": n * h * w * 4, "mem_limit": args.mem_limit})
    cases = [(c, k, d.replace("LIMIT", f"{args.mem_limit / 1e6:.0f} MB"))
             for c, k, d in S.OOC_CASES
             if not (args.skip_ours and c.startswith("ours:"))
             and not (args.skip_imc011 and k == "venv")
             and (not args.only or c.startswith("read:") or re.search(args.only, c))
             and (not args.skip or c.startswith("read:") or not re.search(args.skip, c))]
    rec["cases"] = [(c, d) for c, _, d in cases]
    rows = []
    for r in range(args.ooc_repeats):
        for case, key, _ in cases:
            py = _python_for(key)
            log(f"    ooc {case} (round {r + 1}) ...")
            res = (_mem.run_child(case, py, files_list=lst, mem_limit=args.mem_limit,
                                  timeout=args.ooc_timeout)
                   if py else {"case": case, "error": NOT_BUILT})
            rows.append(res)
            if res.get("error"):
                log(f"      error: {res['error']}")
            else:
                log(f"      {res['wall']:.2f} s, peak RSS {res['peak_rss'] / 2**20:.0f} MB")
    rec["rows"] = rows
    rec["elapsed"] = time.perf_counter() - t0
    return rec


def _write_report(path: str, md: str) -> None:
    """Write RESULTS.md, keeping the blocks other scripts own (simd_levels.py,
    survey_ivar.py, cli_siril.py, nsweep.py, beyond_ram.py)."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = ""
    for block in owned_blocks(old):
        md = md.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(md)


def _markdown(records: list[dict], meta: dict) -> str:
    md = _report.render([r for r in records if r["kind"] != "failed"], meta)
    for r in records:
        if r["kind"] == "failed":
            md += f"\n## {r['id']}: scenario failed\n\nerror: {r['error']}\n"
    if meta.get("interrupted"):
        md += "\n**The run was interrupted; scenarios after the last one above did not run.**\n"
    return md


class Contention:
    """CPU used by other processes on the machine while a scenario ran (in cores).

    busy jiffies of the whole machine (/proc/stat) minus the CPU time of this process,
    its children and the 0.1.1 driver: how much the measurement competed for the cores.
    """

    def __init__(self, driver_proc) -> None:
        import psutil

        self.pids = [os.getpid()] + ([driver_proc.pid] if driver_proc is not None else [])
        self.psutil = psutil
        self.t0 = time.perf_counter()
        self.busy0 = self._busy()
        self.own0 = self._own()

    @staticmethod
    def _busy() -> float:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def _own(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                t = self.psutil.Process(pid).cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except self.psutil.Error:
                pass
        return total

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        others = max(0.0, (self._busy() - self.busy0) - (self._own() - self.own0))
        return {"wall": wall, "other_cores": others / wall if wall else None}


RUNNERS = {"stack": run_stack, "imcombine": run_imcombine, "memory": run_memory,
           "ooc": run_ooc}


def select(patterns: str | None) -> list[S.Scenario]:
    if not patterns:
        return list(S.SCENARIOS)
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    chosen = [sc for sc in S.SCENARIOS if any(fnmatch.fnmatch(sc.id, p) for p in pats)]
    unknown = [p for p in pats if not any(fnmatch.fnmatch(sc.id, p) for sc in S.SCENARIOS)]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: "
                         + ", ".join(sc.id for sc in S.SCENARIOS))
    return chosen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--scenarios", help="comma-separated ids or globs (default: all)")
    ap.add_argument("--repeats", type=int, help="timed repeats (default 5; quick 2)")
    ap.add_argument("--only", help="regex on implementation names (floor/target/reference "
                                   "rows are always kept)")
    ap.add_argument("--skip", help="regex on implementation names to leave out, e.g. "
                                   "'ccdproc' (floor/target/reference rows are kept)")
    ap.add_argument("--skip-ours", action="store_true", help="time the peers only")
    ap.add_argument("--skip-imc011", action="store_true", help="leave out the 0.1.1 peer")
    ap.add_argument("--output", help="Markdown output (default RESULTS.md; "
                                     "RESULTS-quick.md with --quick)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tol", type=float, default=0.01, help="mismatch tolerance (ADU)")
    ap.add_argument("--slow-s", type=float, default=15.0)
    ap.add_argument("--slow-repeats", type=int, default=2)
    ap.add_argument("--mem-limit", type=float, default=256e6, help="OOC memory limit, bytes")
    ap.add_argument("--ooc-repeats", type=int, help="OOC runs per method (default 2; quick 1)")
    ap.add_argument("--ooc-timeout", type=float, default=900.0)
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--render", metavar="JSON",
                    help="only re-render the Markdown from a results/run-*.json")
    args = ap.parse_args(argv)

    if args.render:
        with open(args.render) as f:
            saved = json.load(f)
        out = args.output or str(BENCH_DIR / "RESULTS.md")
        _write_report(out, _markdown(saved["records"], saved["meta"]))
        log(f"wrote {out}")
        return 0

    if args.list:
        for sc in S.SCENARIOS:
            print(f"{sc.id:15s} {' x '.join(map(str, sc.full)):16s} {sc.title}  [{sc.target}]")
        return 0
    args.repeats = args.repeats or (2 if args.quick else 5)
    args.ooc_repeats = args.ooc_repeats or (1 if args.quick else 2)
    output = args.output or str(BENCH_DIR / ("RESULTS-quick.md" if args.quick else "RESULTS.md"))
    scenarios = select(args.scenarios)

    t_start = time.perf_counter()
    machine = machine_info()
    use_repo_package()
    versions = package_versions(["numpy", "bottleneck", "astropy", "ccdproc", "dask",
                                 "psutil"])
    ours_v = package_versions(["imcombiners"])["imcombiners"]
    versions["imcombiners (this repo)"] = ours_v
    meta = {
        "command": "python benchmarks/run.py" + ("" if not sys.argv[1:] else " "
                                                 + " ".join(sys.argv[1:])),
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "quick": args.quick,
        "skip_ours": args.skip_ours, "machine": machine, "versions": versions,
        "repeats": args.repeats, "tol": args.tol, "slow_s": args.slow_s,
        "slow_repeats": args.slow_repeats, "iraf": iraf_version(),
    }
    if _iraf.available() and any(sc.kind == "imcombine" for sc in scenarios):
        meta["iraf_startup"] = _iraf.startup_seconds()

    driver = PeerDriver() if not args.skip_imc011 else None
    if driver is None:
        class _NoDriver:
            error = "skipped (--skip-imc011)"
        driver = _NoDriver()  # type: ignore[assignment]
    meta["imc011_versions"] = getattr(driver, "versions", {})
    meta["imc011_error"] = driver.error
    tmpdir = tempfile.mkdtemp(prefix="imc_bench_")
    ctx = Ctx(driver, tmpdir)  # type: ignore[arg-type]
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = RESULTS_DIR / f"run-{stamp}{'-quick' if args.quick else ''}.json"
    records: list[dict] = []
    # A SIGTERM (e.g. `kill PID`) ends the run like Ctrl-C: the report of what ran is kept.
    def _on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_term)
    try:
        for sc in scenarios:
            shape = sc.quick if args.quick else sc.full
            log(f"== {sc.id}: {sc.title} {shape}")
            contention = Contention(getattr(driver, "proc", None))
            try:
                rec = RUNNERS[sc.kind](sc, shape, ctx, args)
            except Exception as exc:  # noqa: BLE001 - one scenario must not end the run
                import traceback

                traceback.print_exc()
                rec = _base_record(sc, shape)
                rec.update({"kind": "failed", "error": f"{type(exc).__name__}: {exc}"})
            rec["load"][1] = os.getloadavg()[0]
            rec["contention"] = contention.stop()
            records.append(rec)
            with open(json_path, "w") as f:
                json.dump({"meta": meta, "records": records}, f, indent=1, default=str)
    except KeyboardInterrupt:
        log("interrupted: writing the report of the finished scenarios")
        meta["interrupted"] = True
    finally:
        if hasattr(driver, "close"):
            driver.close()
        shutil.rmtree(tmpdir, ignore_errors=True)

    meta["elapsed"] = time.perf_counter() - t_start
    meta["load_after"] = os.getloadavg()
    _write_report(output, _markdown(records, meta))
    with open(json_path, "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1, default=str)
    log(f"wrote {output} and {json_path} in {meta['elapsed']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
