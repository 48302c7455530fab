#!/usr/bin/python3
"""Assembles the bench drivers' results in OUT into OUT/latest.json and OUT/latest.md.

    report.py OUT [--smoke]

Reads OUT/run.meta.json (machine, load) and, for each part p1..p8 and p3pg present, OUT/pN.json (figures
and details) and OUT/pN.meta.json (when it ran, load average before and after). Prints the
Markdown table. With --smoke no target is judged: the counts are too small to mean anything.
"""
import json
import os
import sys

PARTS = [
    ("p1", "P1 publish cost"),
    ("p2", "P2 propagation"),
    ("p3", "P3 ingest"),
    ("p3pg", "P3 ingest on PostgreSQL"),
    ("p4", "P4 scale"),
    ("p5", "P5 backends"),
    ("p6", "P6 fan-out"),
    ("p7", "P7 failover"),
    ("p8", "P8 API pages"),
    ("soak", "SOAK bounded state"),
]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def number(value, unit=""):
    if value is None:
        return "—"
    if unit == "events/s" or abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def verdict(met, smoke):
    if met is None:
        return "—"
    if smoke:
        return "(smoke)"
    return "yes" if met else "**NO**"


def p2_tail(part):
    """P2's rows with their tails: percentiles, where the slowest 1% spent their time, stalls."""
    details = (part or {}).get("details", {})
    rows = details.get("tail")
    if not rows:
        return []
    stages = [st["stage"] for st in rows[0]["slowest"]["stages"]]
    lines = ["", "#### P2 tail: every row's deliveries; the slowest 1% stage by stage (median / max ms)", "",
             "| row | deliveries (lost) | p50 | p99 | p99.9 | max | " + " | ".join(stages) +
             " | largest stage | CPU stall overlapped (>2 / >20 ms) | slow fdatasync overlapped | worst stall in row |"
             " steal over row |",
             "| --- " * (11 + len(stages)) + "|"]
    for r in rows:
        l, slow = r["latency_ms"], r["slowest"]
        cells = [f"{st['slowest_p50']:.2f} / {st['slowest_max']:.2f}" for st in slow["stages"]]
        largest = ", ".join(f"{k} {v}" for k, v in sorted(slow["largest_stage"].items(), key=lambda kv: -kv[1]))
        stall = f"{r['worst_stall_in_row_ms']:.1f} ms" + (f" at {r['worst_stall_in_row_at']}"
                                                          if r["worst_stall_in_row_ms"] > 0 else "")
        lines.append(f"| `{r['id']}` | {r['deliveries']} ({r['lost']}) | {l['p50']:.2f} | {l['p99']:.2f} | "
                     f"{l.get('p999', 0):.2f} | {l['max']:.2f} | " + " | ".join(cells) +
                     f" | {largest or '—'} | {slow['with_stall_over_2ms']} / {slow['with_stall_over_20ms']} of "
                     f"{slow['count']} | {slow.get('with_slow_fdatasync', 0)} | {stall} | "
                     f"{100 * r.get('machine_steal', 0):.1f}% |")
    detector = details.get("stall_detector")
    if detector:
        late = detector["wake_lateness_ms"]
        worst = "; ".join(f"{w['late_ms']:.1f} ms at {w['at']}" for w in detector["worst"][:5]) or "none"
        # Runs before 12-03 13:30 UTC have no "realtime": their detector ran at normal priority.
        priority = {True: "SCHED_FIFO", False: "normal priority: no privilege for SCHED_FIFO",
                    None: "normal priority"}[detector.get("realtime")]
        lines += ["", f"- stall detector ({detector['threads']} threads, one pinned to each CPU, {priority}, "
                      f"1 ms sleeps): wake "
                      f"lateness p50 {late['p50']:.3f}, p99.9 {late.get('p999', 0):.2f}, max {late['max']:.1f} ms; "
                      f"{detector['stalls']} stalls over {detector['threshold_ms']:.0f} ms, "
                      f"{detector['stalls_over_20ms']} over 20 ms; worst: {worst}"]
        fs = detector.get("fdatasync_ms")
        if fs:
            worst = "; ".join(f"{w['late_ms']:.1f} ms at {w['at']}" for w in detector["fdatasync_worst"][:5]) or "none"
            lines.append(f"- fdatasync probe (4 KiB every 50 ms beside the aggregator's state.db): p50 {fs['p50']:.2f}, "
                         f"p99 {fs['p99']:.2f}, max {fs['max']:.1f} ms; slowest: {worst}")
    return lines


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    smoke = "--smoke" in sys.argv[2:]
    meta = load(os.path.join(out, "run.meta.json")) or {}
    doc = {"meta": meta, "parts": {}}
    lines = []
    mode = "smoke (tiny counts, nothing judged)" if smoke else "full"
    lines.append(f"### fleetban bench, {meta.get('date', '?')} ({mode})")
    lines.append("")
    lines.append(f"- machine: {meta.get('nproc', '?')} CPUs ({meta.get('cpu_model', '?')}), "
                 f"{meta.get('memory', '?')}, kernel {meta.get('kernel', '?')}; shared with other work")
    lines.append(f"- build: {meta.get('build_type', '?')}, commit {meta.get('commit', '?')}; "
                 f"timer: {meta.get('hyperfine', '?')}")
    lines.append(f"- uptime before: `{meta.get('uptime_before', '?')}`")
    lines.append(f"- uptime after: `{meta.get('uptime_after', '?')}`")
    lines.append("")
    lines.append("| figure | measured | baseline (same run) | ratio | target | met |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    notes = []
    failed = []
    carried = [k for k, _ in PARTS
               if (load(os.path.join(out, k + ".meta.json")) or {}).get("started", "~") < meta.get("date", "")]
    if carried:
        lines.insert(len(lines) - 3, f"- parts carried over from an earlier run (`--only`): {', '.join(carried)}; "
                                     "each part's row gives its own time and load")
    for key, title in PARTS:
        part = load(os.path.join(out, key + ".json"))
        part_meta = load(os.path.join(out, key + ".meta.json"))
        if part is None:
            if part_meta is not None and part_meta.get("exit_status", 0) != 0:
                failed.append(key)
                lines.append(f"| **{title}: FAILED** (exit {part_meta['exit_status']}, see {key}.log) | | | | | |")
            continue
        doc["parts"][key] = {"ran": part_meta, **part}
        when = ""
        if part_meta:
            when = (f" — ran {part_meta.get('started', '?')}, load {part_meta.get('loadavg_before', '?')}"
                    f" → {part_meta.get('loadavg_after', '?')}")
        lines.append(f"| **{title}**{when} | | | | | |")
        for f in part.get("figures", []):
            label = f["label"]
            if f.get("note"):
                label += f" ({f['note']})"
            baseline = number(f.get("baseline"), f.get("unit", ""))
            if f.get("baseline_label"):
                baseline = f"{baseline}: {f['baseline_label']}" if f.get("baseline") is not None else f["baseline_label"]
            ratio = f"{f['ratio']:.2f}x" if f.get("ratio") is not None else "—"
            lines.append(f"| `{f['id']}` {label} | {number(f.get('value'), f.get('unit', ''))} | {baseline} | "
                         f"{ratio} | {f.get('target') or '—'} | {verdict(f.get('met'), smoke)} |")
        skipped = part.get("details", {}).get("skipped")
        if skipped:
            notes.append(f"{title}: skipped, {skipped}")
        nft = part.get("details", {}).get("nftables")
        if nft:
            if nft.get("status") != "measured":
                lines.append(f"| `P5.nftables` nftables backend | {nft.get('status')} | — | — | — | — |")
        f2b = part.get("details", {}).get("fail2ban", {})
        if isinstance(f2b, dict) and str(f2b.get("status", "")).startswith("skipped"):
            notes.append(f"P5 fail2ban: {f2b['status']}")
    if notes:
        lines.append("")
        for n in notes:
            lines.append(f"- {n}")
    lines.extend(p2_tail(load(os.path.join(out, "p2.json"))))
    markdown = "\n".join(lines) + "\n"
    doc["markdown"] = markdown
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write(markdown)
    print()
    print(markdown)
    return 0  # a failed part is reported by run.sh; a crash here exits non-zero


if __name__ == "__main__":
    sys.exit(main())
