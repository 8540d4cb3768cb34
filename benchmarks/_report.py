"""Ratios, pass/fail and the Markdown of RESULTS.md, from run.py's result records."""

from __future__ import annotations

import statistics

from _common import MB, fmt_mb, fmt_ratio, fmt_time


def _med(row: dict) -> float | None:
    return row.get("stats", {}).get("median")


def evaluate_stack(rec: dict) -> None:
    """Add reference times and per-row ratios / pass flags to a timed scenario record."""
    rows = rec["impls"]
    floor = next((r for r in rows if r["family"] == "floor" and _med(r)), None)
    target = next((r for r in rows if r["is_target"]), None)
    imc = [r for r in rows if r["family"] == "imc011" and _med(r)]
    rec["floor_time"] = _med(floor) if floor else None
    rec["target_time"] = _med(target) if target else None
    rec["target_name"] = target["name"] if target else None
    rec["target_error"] = target.get("error") if target else "no target implementation"
    best011 = min(imc, key=_med) if imc else None
    rec["imc011_best"] = _med(best011) if best011 else None
    rec["imc011_best_name"] = best011["name"] if best011 else None
    nbytes = rec.get("bytes")
    for r in rows:
        t = _med(r)
        r["x_target"] = t / rec["target_time"] if t and rec["target_time"] else None
        r["x_floor"] = t / rec["floor_time"] if t and rec["floor_time"] else None
        r["gbps"] = nbytes / t / 1e9 if t and nbytes else None
        if r["family"] != "ours":
            continue
        if not t:
            r["pass_target"] = None
            r["pass_011"] = None
            continue
        if rec["target_kind"] == "floor":
            r["ratio_target"] = r["x_floor"]
            r["pass_target"] = (r["x_floor"] <= rec["target_value"]) if r["x_floor"] else None
        elif rec["target_kind"] == "slower":
            r["ratio_target"] = r["x_target"]
            r["pass_target"] = (r["x_target"] <= rec["target_value"]) if r["x_target"] else None
        else:
            r["ratio_target"] = (rec["target_time"] / t) if rec["target_time"] else None
            r["pass_target"] = (r["ratio_target"] >= rec["target_value"]
                                if r["ratio_target"] else None)
        r["ratio_011"] = rec["imc011_best"] / t if rec["imc011_best"] else None
        r["pass_011"] = (r["ratio_011"] >= rec["imc011_factor"]) if r["ratio_011"] else None


def _pf(x) -> str:
    return "-" if x is None else ("**PASS**" if x else "**FAIL**")


def _status(r: dict) -> str:
    if r.get("error"):
        return "error: " + r["error"]
    bits = []
    if r.get("modified_input"):
        bits.append("MODIFIED ITS INPUT")
    if r.get("note"):
        bits.append(r["note"])
    if r.get("mismatch_note"):
        bits.append(r["mismatch_note"])
    return "; ".join(bits)


def _stack_table(rec: dict) -> list[str]:
    ref = rec.get("target_name") or "-"
    floor = next((r["name"] for r in rec["impls"] if r["family"] == "floor"), "-")
    lines = [
        f"Ratios are to `{ref}` (x target: time / target time; below 1 is faster). "
        f"x floor = time / `{floor}` of this run. GB/s = stack bytes / "
        f"median time. Spread: min..max over the timed repeats (IQR where n >= 4).",
        "",
        "| implementation | family | threads | n | median | min..max | IQR | x target | "
        "GB/s | x floor | cpu/wall | mismatch % | vs target | vs 0.1.1 | notes |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|---|",
    ]
    for r in rec["impls"]:
        st = r.get("stats", {})
        n = st.get("n", 0)
        iqr = (f"{fmt_time(st['q1'])}..{fmt_time(st['q3'])}" if n >= 4 else "-")
        mm = f"{fmt_time(st.get('min'))}..{fmt_time(st.get('max'))}" if n else "-"
        vs_t = vs_o = ""
        if r["family"] == "ours" and n:
            if rec["target_kind"] == "floor":
                vs_t = f"{fmt_ratio(r.get('ratio_target'))}x floor {_pf(r.get('pass_target'))}"
            elif rec["target_kind"] == "slower":
                vs_t = f"{fmt_ratio(r.get('ratio_target'))}x its time {_pf(r.get('pass_target'))}"
            else:
                vs_t = f"{fmt_ratio(r.get('ratio_target'))}x faster {_pf(r.get('pass_target'))}"
            if r.get("ratio_011") is not None:
                vs_o = f"{fmt_ratio(r['ratio_011'])}x faster {_pf(r.get('pass_011'))}"
        mis = "-" if r.get("mismatch_pct") is None else f"{r['mismatch_pct']:.3f}"
        if r.get("is_reference"):
            mis = "ref"
        name = f"`{r['name']}`" + (" (target)" if r.get("is_target") else "")
        lines.append(
            f"| {name} | {r['family']} | {r['threads']} | {n} | {fmt_time(st.get('median'))} | "
            f"{mm} | {iqr} | {fmt_ratio(r.get('x_target'))} | {fmt_ratio(r.get('gbps'))} | "
            f"{fmt_ratio(r.get('x_floor'), 1)} | {fmt_ratio(st.get('cpu_wall'))} | {mis} | "
            f"{vs_t} | {vs_o} | {_status(r)} |")
    return lines


def _memory_table(rec: dict) -> list[str]:
    lines = [
        "Each row: one fresh child process (benchmarks/_mem.py). Peak extra RSS = VmHWM "
        "during the call (counter reset just before it) minus RSS before it: it sees Rust "
        "and NumPy allocations alike. Peak anon is sampled every 2 ms (private memory). "
        "tracemalloc sees NumPy/Python allocations only. Budget = output + 64 MB.",
        "",
        "| case | what | time | input MB | output MB | peak extra RSS MB | peak extra anon MB "
        "| tracemalloc peak MB | budget MB | result |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rec["rows"]:
        if r.get("error"):
            lines.append(f"| `{r['case']}` | {r['what']} | - | - | - | - | - | - | - | "
                         f"error: {r['error']} |")
            continue
        budget = r["output_bytes"] + 64 * MB
        res = ""
        if r.get("ours"):
            res = _pf(r["peak_extra"] <= budget)
        lines.append(
            f"| `{r['case']}` | {r['what']} | {fmt_time(r['wall'])} | "
            f"{fmt_mb(r.get('input_bytes'))} | {fmt_mb(r['output_bytes'])} | "
            f"{fmt_mb(r['peak_extra'])} | {fmt_mb(r['peak_anon_extra'])} | "
            f"{fmt_mb(r['tracemalloc_peak'])} | {fmt_mb(budget)} | {res} |")
    return lines


def _ooc_table(rec: dict) -> list[str]:
    limit = rec["mem_limit"]
    nbytes = rec["bytes"]
    by_case: dict[str, list[dict]] = {}
    for r in rec["rows"]:
        by_case.setdefault(r["case"], []).append(r)
    raw = [r["wall"] for r in by_case.get("read:raw", []) if not r.get("error")]
    raw_gbps = nbytes / statistics.median(raw) / 1e9 if raw else None
    lines = [
        f"{rec['n']} files of {rec['h']} x {rec['w']} float32 ({nbytes / 1e9:.2f} GB of "
        f"pixels), served from the page cache (read once before timing; caches cannot be "
        f"dropped here, so reads are not disk reads). memory_limit / mem_limit = "
        f"{limit / 1e6:.0f} MB. Each run is a fresh child process; time = the call "
        f"itself (after imports). Peak RSS = whole-process VmHWM during the call "
        f"(includes mapped file pages and the interpreter); peak anon = sampled private "
        f"memory. Throughput = pixel bytes / median time"
        + (f"; raw read speed of these files: {raw_gbps:.2f} GB/s." if raw_gbps else "."),
        "",
        "| method | runs | median time | min..max | GB/s | x raw read time | peak RSS MB "
        "| peak RSS - before MB | peak anon MB | <= limit (whole process) | notes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for case, what in rec["cases"]:
        rows = by_case.get(case, [])
        ok = [r for r in rows if not r.get("error")]
        errs = [r["error"] for r in rows if r.get("error")]
        if not ok:
            lines.append(f"| `{case}`: {what} | 0 | - | - | - | - | - | - | - | - | "
                         f"error: {errs[0] if errs else 'not run'} |")
            continue
        walls = [r["wall"] for r in ok]
        med = statistics.median(walls)
        peak = max(r["peak_rss"] for r in ok)
        extra = max(r["peak_extra"] for r in ok)
        anon = max(r["peak_anon"] for r in ok)
        gbps = nbytes / med / 1e9
        xraw = med / statistics.median(raw) if raw else None
        within = "" if case.startswith("read:") else ("yes" if peak <= limit else "no")
        lines.append(
            f"| `{case}`: {what} | {len(ok)} | {fmt_time(med)} | "
            f"{fmt_time(min(walls))}..{fmt_time(max(walls))} | {fmt_ratio(gbps)} | "
            f"{fmt_ratio(xraw, 1)} | {fmt_mb(peak)} | {fmt_mb(extra)} | {fmt_mb(anon)} | "
            f"{within} | {'; '.join(errs)} |")
    return lines


def render(records: list[dict], meta: dict) -> str:
    m = meta["machine"]
    out = [
        "# Benchmark results",
        "",
        f"Generated by `{meta['command']}` on {meta['date']} "
        f"({'QUICK smoke-test sizes: not the real targets' if meta['quick'] else 'full sizes'}"
        f"{'; our implementation skipped' if meta.get('skip_ours') else ''}). "
        f"Total run time {meta['elapsed']:.0f} s.",
        "",
        "## Machine",
        "",
        f"* CPU: {m['cpu_model']}; {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable); "
        f"SIMD: {', '.join(m['simd']) or '-'}; caches: "
        + ", ".join(f"{k} {v}" for k, v in m["caches"].items() if "cache" in k),
        f"* RAM: {m['ram_gib']} GiB; kernel {m['kernel']}; "
        f"{m['caches'].get('Hypervisor vendor', 'bare metal?')} VM" if m["caches"].get(
            "Hypervisor vendor") else f"* RAM: {m['ram_gib']} GiB; kernel {m['kernel']}",
        f"* Load average before / after: {', '.join(f'{x:.2f}' for x in m['loadavg'])} / "
        f"{', '.join(f'{x:.2f}' for x in meta['load_after'])}",
        f"* Python {m['python']}; environment: "
        + (", ".join(f"{k}={v}" for k, v in m["env"].items()) or "no thread/BLAS variables set"),
        "* Packages (this process): "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "* 0.1.1 peer (benchmarks/.venv-peers): "
        + (", ".join(f"{k} {v}" for k, v in meta["imc011_versions"].items())
           if meta.get("imc011_versions") else meta.get("imc011_error") or "-"),
        f"* IRAF: {meta.get('iraf') or 'not installed: apt-get install iraf iraf-noao'}"
        + (f"; CL start-up (load images, immatch, logout) {fmt_time(meta['iraf_startup'])}"
           if meta.get("iraf_startup") else ""),
        "",
        "## Method",
        "",
        "* One command runs every scenario and implementation in the same run. Per scenario "
        "each implementation is set up and called once untimed (warm-up; its output is "
        "compared with the scenario's reference: `mismatch %` = elements differing by more "
        f"than {meta['tol']} ADU or in NaN-ness; and the input is checked for modification), "
        f"then {meta['repeats']} rounds time the implementations interleaved "
        "(A, B, C, A, B, C, ...). Implementations whose warm-up exceeds "
        f"{meta['slow_s']:.0f} s get {meta['slow_repeats']} timed runs. Times are wall "
        "clock (perf_counter); the figure used is the median of the repeats.",
        "* NumPy, bottleneck, astropy and ccdproc run in this process on one thread "
        "(they do not multi-thread these reductions); ours and 0.1.1 use rayon (all "
        "cores). 0.1.1 runs in a persistent subprocess under benchmarks/.venv-peers "
        "(peer_imc011.py: the stack is loaded from the same .npy into RAM before timing; "
        "each call is timed inside that process). IRAF runs as a whole `irafcl` process.",
        "* Data: Normal(1000, 5) ADU x per-frame U(0.97, 1.03), + cosmic rays of "
        "+500..+5000 ADU on 0.5 % of pixels, float32, seeded and cached in benchmarks/data/.",
        "",
    ]
    # Summary
    out += ["## Summary against the targets", "",
            "| scenario | target | our implementation | ours | target reference | "
            "ratio | target met | 0.1.1 best | x faster than 0.1.1 | >= 2x |",
            "|---|---|---|--:|---|--:|---|--:|--:|---|"]
    for rec in records:
        if rec["kind"] in ("stack", "imcombine"):
            ours = [r for r in rec["impls"] if r["family"] == "ours"]
            ref_t = rec["floor_time"] if rec["target_kind"] == "floor" else rec["target_time"]
            ref_name = ("numpy sum floor" if rec["target_kind"] == "floor"
                        else rec.get("target_name") or "-")
            ref_txt = (f"{ref_name}: {fmt_time(ref_t)}" if ref_t else
                       f"{ref_name}: {rec.get('target_error') or 'no time'}")
            if not ours:
                out.append(f"| {rec['id']} | {rec['target']} | (ours not run) | - | "
                           f"{ref_txt} | - | - | {fmt_time(rec.get('imc011_best'))} | - | - |")
            for r in ours:
                t = _med(r)
                if r.get("error") or not t:
                    out.append(f"| {rec['id']} | {rec['target']} | `{r['name']}` | "
                               f"error: {(r.get('error') or 'no time')[:120]} | {ref_txt} | "
                               f"- | - | {fmt_time(rec.get('imc011_best'))} | - | - |")
                    continue
                ratio = r.get("ratio_target")
                unit = {"floor": "x floor", "slower": "x its time"}.get(rec["target_kind"], "x faster")
                rtxt = f"{fmt_ratio(ratio)}{unit}" if ratio else "-"
                out.append(
                    f"| {rec['id']} | {rec['target']} | `{r['name']}` | {fmt_time(t)} | "
                    f"{ref_txt} | {rtxt} | {_pf(r.get('pass_target'))} | "
                    f"{fmt_time(rec.get('imc011_best'))} | {fmt_ratio(r.get('ratio_011'))} | "
                    f"{_pf(r.get('pass_011'))} |")
        elif rec["kind"] == "memory":
            for r in rec["rows"]:
                if not r.get("ours"):
                    continue
                if r.get("error"):
                    out.append(f"| memory | {rec['target']} | `{r['case']}` | error: "
                               f"{r['error'][:120]} | - | - | - | - | - | - |")
                    continue
                budget = r["output_bytes"] + 64 * MB
                out.append(f"| memory | {rec['target']} | `{r['case']}` | "
                           f"{fmt_mb(r['peak_extra'])} MB | budget {fmt_mb(budget)} MB | - | "
                           f"{_pf(r['peak_extra'] <= budget)} | - | - | - |")
    out.append("")
    for rec in records:
        shape = " x ".join(str(x) for x in rec["shape"])
        out += [f"## {rec['id']}: {rec['title']}", "",
                f"Shape {shape} float32"
                + (f" ({rec['bytes'] / 1e6:.0f} MB)" if rec.get("bytes") else "")
                + f". Target: {rec['target']}. Load {rec['load'][0]:.2f} -> {rec['load'][1]:.2f}"
                + (f"; other processes used {rec['contention']['other_cores']:.2f} of the "
                   f"{meta['machine']['logical_cpus']} cores meanwhile."
                   if rec.get("contention", {}).get("other_cores") is not None else ".")
                + (f" Elapsed {rec['elapsed']:.0f} s." if rec.get("elapsed") else ""), ""]
        if rec["kind"] in ("stack", "imcombine"):
            out += _stack_table(rec)
        elif rec["kind"] == "memory":
            out += _memory_table(rec)
        elif rec["kind"] == "ooc":
            out += _ooc_table(rec)
        if rec.get("notes"):
            out += [""] + [f"* {n}" for n in rec["notes"]]
        out.append("")
    return "\n".join(out) + "\n"
