#!/usr/bin/env python3
"""Our kernels at every SIMD level against NumPy / bottleneck / astropy, in one run.

    python benchmarks/simd_levels.py                  # full sizes -> section of RESULTS.md
    python benchmarks/simd_levels.py --quick --output /tmp/simd.md
    python benchmarks/simd_levels.py --levels baseline,avx2 --repeats 7
    python benchmarks/simd_levels.py --render benchmarks/results/simd-<time>.json

The scenarios of issue 14 (the stack scenarios of run.py: 20 x 2048^2 float32 mean,
median, SigClip + mean / median, MinMaxClip + mean; 5 x 4096^2 and 100 x 1024^2 medians)
with the issue's targets. Per scenario the peers (floor, target, reference) are set up
once and timed interleaved with our entry points at each level the CPU runs (forced with
``imcombiners._config.forced_simd_level``, the run-time equivalent of
``IMCOMBINERS_SIMD``), so every level meets the same machine load. The Markdown (one
table per level, then the level-against-level comparison) replaces the block between
the ``simd-levels`` markers of RESULTS.md (``run.py`` keeps that block when it rewrites
the file). Raw results go to benchmarks/results/simd-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import sys
import time

import _data
import _report
import _scenarios as S
from _common import (BENCH_DIR, RESULTS_DIR, fmt_ratio, fmt_time, machine_info, package_versions, replace_block,
                     use_repo_package)
from _timing import Impl, run_interleaved

BEGIN = "<!-- simd-levels:begin (benchmarks/simd_levels.py writes this block) -->"
END = "<!-- simd-levels:end -->"

# Issue 14's targets, per level: (kind, value, text). kind "floor": ours / floor <= value;
# "speedup": target peer / ours >= value.
TARGETS = {
    "mean": ("floor", 1.5, "<= 1.5x the NumPy sum floor"),
    "median": ("speedup", 10.0, ">= 10x bottleneck.nanmedian"),
    "sigclip-mean": ("speedup", 20.0, ">= 20x astropy sigma_clip + bottleneck"),
    "sigclip-median": ("speedup", 20.0, ">= 20x astropy sigma_clip + bottleneck"),
    "minmax-mean": ("speedup", 5.0, ">= 5x the best NumPy formulation"),
    "median-n5": ("speedup", 5.0, ">= 5x bottleneck.nanmedian"),
    "median-n100": ("speedup", 5.0, ">= 5x bottleneck.nanmedian"),
}
# Peers that are neither floor, target nor reference and cost much time: left out here
# (run.py times them).
SKIP = ("ccdproc", "numpy.median", "bottleneck.median", "2 threads")

# A level counts as slower than the one below when its median is more than this much
# above, and the two spreads (min..max) do not overlap.
SLOWER = 1.05


def log(msg: str) -> None:
    print(msg, flush=True)


def _at_level(setup, level: str):
    def wrapped():
        from imcombiners._config import forced_simd_level

        with forced_simd_level(level):  # set-up compiles nothing, but keep it uniform
            fn = setup()

        def run():
            with forced_simd_level(level):
                return fn()

        return run

    return wrapped


class _NoPeerCtx:
    """What S.stack_impls needs to declare the 0.1.1 rows (left out here)."""

    class driver:  # noqa: N801 - stands for a PeerDriver that is not started
        error = "the 0.1.1 peer is not timed by simd_levels.py"

    npy = None
    tmpdir = None


def scenario_impls(sc: S.Scenario, stack, levels: list[str]) -> list[Impl]:
    out = []
    for impl in S.stack_impls(sc, stack, ctx=_NoPeerCtx()):
        if impl.family in ("imc011", "iraf"):
            continue
        essential = impl.is_target or impl.is_reference or impl.name.endswith("[floor]")
        if impl.family == "floor" and not essential:
            continue
        if impl.family == "peer" and not essential and any(s in impl.name for s in SKIP):
            continue
        if impl.family != "ours":
            out.append(impl)
            continue
        for level in levels:
            out.append(Impl(f"{impl.name} [{level}]", "ours", _at_level(impl.setup, level),
                            threads=impl.threads, note=impl.note))
    return out


def run_scenario(sc: S.Scenario, shape, levels: list[str], args) -> dict:
    import run as runner  # Contention

    kind, value, text = TARGETS[sc.id]
    rec = {"id": sc.id, "title": sc.title, "kind": "stack", "shape": list(shape), "target": text,
           "target_kind": kind, "target_value": value, "imc011_factor": 0.0,
           "load": [os.getloadavg()[0], None], "notes": []}
    t0 = time.perf_counter()
    log(f"== {sc.id}: {sc.title} {shape}")
    stack = _data.load_stack(*shape, seed=args.seed)
    rec["bytes"] = stack.nbytes
    impls = scenario_impls(sc, stack, levels)
    if kind == "floor":
        impls[0].is_target = True
    contention = runner.Contention(None)
    run_interleaved(impls, repeats=args.repeats, stack=stack, tol=args.tol, slow_s=args.slow_s,
                    slow_repeats=args.slow_repeats, log=log)
    rec["contention"] = contention.stop()
    rec["impls"] = [runner._impl_record(i) for i in impls]
    rec["load"][1] = os.getloadavg()[0]
    rec["elapsed"] = time.perf_counter() - t0
    _report.evaluate_stack(rec)
    del stack, impls
    gc.collect()
    return rec


def _split(name: str) -> tuple[str, str | None]:
    """`"impl [avx2]"` -> `("impl", "avx2")`; a name without a level -> `(name, None)`."""
    if name.endswith("]") and " [" in name:
        base, level = name[:-1].rsplit(" [", 1)
        if level in ("baseline", "avx2", "avx512"):
            return base, level
    return name, None


def _span(row: dict) -> str:
    st = row.get("stats", {})
    return f"{fmt_time(st.get('min'))}..{fmt_time(st.get('max'))}" if st.get("n") else "-"


def _pf(x) -> str:
    return "-" if x is None else ("**PASS**" if x else "**FAIL**")


def render(records: list[dict], meta: dict) -> str:
    m = meta["machine"]
    levels = meta["levels"]
    lines = [
        BEGIN,
        "## Per SIMD level (issue 14)",
        "",
        f"Generated by `{meta['command']}` on {meta['date']} ({'quick sizes' if meta['quick'] else 'full sizes'}; "
        f"{meta['repeats']} timed repeats; total {meta['elapsed']:.0f} s).",
        "",
        f"* CPU: {m['cpu_model']}; {m['usable_cpus']} usable logical CPUs; "
        f"kernel {m['kernel']}; {m['caches'].get('Hypervisor vendor', 'bare metal?')} VM",
        f"* `/proc/cpuinfo` SIMD flags: {' '.join(meta['simd_flags'])}",
        f"* Kernel levels this CPU runs: {', '.join(meta['simd']['available'])}; levels timed: {', '.join(levels)} "
        "(forced per call with `forced_simd_level`, the run-time form of `IMCOMBINERS_SIMD`)",
        f"* Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"* Load average before / after: {', '.join(f'{x:.2f}' for x in m['loadavg'])} / "
        f"{', '.join(f'{x:.2f}' for x in meta['load_after'])}",
        "",
        "Method: per scenario the peers (the NumPy sum floor, the target peer and the reference "
        "whose output ours is compared with) and our two entry points at every level are warmed up "
        "once and then timed in interleaved rounds (peer, ours@baseline, ours@avx2, ours@avx512, ...), "
        "so a change of load hits every level alike. Figures are medians of the repeats. Peers run on "
        "one thread (they do not multi-thread); ours on both cores (rayon). Targets are issue 14's.",
        "",
        meta.get("noise_note", ""),
        "",
    ]
    for level in levels:
        lines += [f"### Level `{level}`", "",
                  "| scenario | our entry point | median | min..max | target peer | peer median | ratio | "
                  "issue target | met | x level below |",
                  "|---|---|--:|--:|---|--:|--:|---|---|--:|"]
        for rec in records:
            rows = {r["name"]: r for r in rec["impls"]}
            for r in rec["impls"]:
                base, lvl = _split(r["name"])
                if lvl != level:
                    continue
                below = levels[levels.index(level) - 1] if levels.index(level) > 0 else None
                rb = rows.get(f"{base} [{below}]") if below else None
                tb = rb and rb.get("stats", {}).get("median")
                t = r.get("stats", {}).get("median")
                x_below = fmt_ratio(t / tb) if t and tb else "-"
                ratio = r.get("ratio_target")
                ratio_s = (f"{fmt_ratio(ratio)}x floor" if rec["target_kind"] == "floor"
                           else f"{fmt_ratio(ratio)}x faster") if ratio else "-"
                err = f" error: {r['error']}" if r.get("error") else ""
                mm = r.get("mismatch_pct")
                mism = f" (mismatch {mm:.3f} %)" if mm else ""
                lines.append(
                    f"| {rec['id']} | `{base}`{err}{mism} | {fmt_time(t)} | {_span(r)} | {rec.get('target_name') or '-'} | "
                    f"{fmt_time(rec.get('target_time'))} | {ratio_s} | {rec['target']} | {_pf(r.get('pass_target'))} | "
                    f"{x_below} |")
        lines.append("")
    lines += ["### Each level against the level below", "",
              f"Time at the level / time at the level below (below 1: faster). A level is marked "
              f"**slower** when its median is more than {SLOWER:.2f}x the level below's and its fastest "
              "run is slower than the level below's slowest; otherwise a ratio above 1 is within the noise.",
              "",
              "| scenario | our entry point | " + " | ".join(levels) + " | "
              + " | ".join(f"{b}/{a}" for a, b in zip(levels, levels[1:])) + " |",
              "|---|---|" + "--:|" * len(levels) + "---|" * (len(levels) - 1)]
    for rec in records:
        rows = {r["name"]: r for r in rec["impls"]}
        bases = []
        for r in rec["impls"]:
            base, lvl = _split(r["name"])
            if lvl and base not in bases:
                bases.append(base)
        for base in bases:
            st = [rows.get(f"{base} [{lvl}]", {}).get("stats", {}) for lvl in levels]
            cells = [fmt_time(s.get("median")) for s in st]
            cmp_ = []
            for a, b in zip(st, st[1:]):
                if not a.get("median") or not b.get("median"):
                    cmp_.append("-")
                    continue
                x = b["median"] / a["median"]
                slower = x > SLOWER and b["min"] > a["max"]
                cmp_.append(f"{fmt_ratio(x)}" + (" **slower**" if slower else ""))
            lines.append(f"| {rec['id']} | `{base}` | " + " | ".join(cells) + " | " + " | ".join(cmp_) + " |")
    lines += ["", "Per scenario: load average before -> after, and the CPU other processes used meanwhile "
              "(in cores of the 2):", ""]
    for rec in records:
        c = rec.get("contention", {})
        oc = c.get("other_cores")
        lines.append(f"* {rec['id']} {' x '.join(map(str, rec['shape']))}: load {rec['load'][0]:.2f} -> "
                     f"{rec['load'][1]:.2f}; others used {oc:.2f} cores" if oc is not None else f"* {rec['id']}")
    if meta.get("notes"):
        lines += ["", meta["notes"].strip()]
    lines += ["", END, ""]
    return "\n".join(lines)




def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--scenarios", default=",".join(TARGETS), help="comma-separated ids")
    ap.add_argument("--levels", help="comma-separated levels (default: every level this CPU runs)")
    ap.add_argument("--repeats", type=int, help="timed repeats (default 5; quick 2)")
    ap.add_argument("--output", help="Markdown file whose simd-levels block is written (default RESULTS.md)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tol", type=float, default=0.01)
    ap.add_argument("--slow-s", type=float, default=15.0)
    ap.add_argument("--slow-repeats", type=int, default=2)
    ap.add_argument("--noise-note", default="", help="a sentence on the machine's load, put in the report")
    ap.add_argument("--notes", metavar="MD", help="a Markdown file of notes (e.g. profiles) put after the tables")
    ap.add_argument("--render", metavar="JSON", help="only re-render from a results/simd-*.json")
    args = ap.parse_args(argv)
    output = args.output or str(BENCH_DIR / "RESULTS.md")
    if args.render:
        with open(args.render) as f:
            saved = json.load(f)
        if args.noise_note:
            saved["meta"]["noise_note"] = args.noise_note
        if args.notes:
            saved["meta"]["notes"] = open(args.notes).read()
        replace_block(output, BEGIN, END, render(saved["records"], saved["meta"]))
        log(f"wrote the simd-levels block of {output}")
        return 0

    use_repo_package()
    from imcombiners._config import simd_config

    cfg = simd_config()
    levels = args.levels.split(",") if args.levels else cfg["available"]
    missing = [lvl for lvl in levels if lvl not in cfg["available"]]
    if missing:
        raise SystemExit(f"this CPU does not run {missing}; it runs {cfg['available']}")
    ids = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [i for i in ids if i not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(TARGETS)}")
    args.repeats = args.repeats or (2 if args.quick else 5)
    flags = open("/proc/cpuinfo").read().split("flags", 1)[1].split("\n", 1)[0].split(":", 1)[1].split()
    meta = {
        "command": "python benchmarks/simd_levels.py" + ("" if not sys.argv[1:] else " " + " ".join(sys.argv[1:])),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick,
        "machine": machine_info(), "simd": cfg, "levels": levels, "repeats": args.repeats,
        "simd_flags": [f for f in flags if f.startswith(("sse", "ssse", "avx", "fma", "bmi", "popcnt", "lzcnt", "abm", "f16c"))],
        "versions": package_versions(["imcombiners", "numpy", "bottleneck", "astropy"]),
        "noise_note": args.noise_note,
        "notes": open(args.notes).read() if args.notes else "",
    }
    t0 = time.perf_counter()
    records = []
    RESULTS_DIR.mkdir(exist_ok=True)
    json_path = RESULTS_DIR / f"simd-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    for sc in (s for s in S.SCENARIOS if s.id in ids):
        records.append(run_scenario(sc, sc.quick if args.quick else sc.full, levels, args))
        with open(json_path, "w") as f:
            json.dump({"meta": meta, "records": records}, f, indent=1, default=str)
    meta["elapsed"] = time.perf_counter() - t0
    meta["load_after"] = os.getloadavg()
    with open(json_path, "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1, default=str)
    replace_block(output, BEGIN, END, render(records, meta))
    log(f"wrote the simd-levels block of {output} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
