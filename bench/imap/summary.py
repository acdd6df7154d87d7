#!/usr/bin/env python3
"""summary.py - the details that compare.py's table leaves out, as markdown:

  * the cold/warm FETCH times (fetch_time.py JSON lines), both servers, ratios;
  * errors of every load/idle run, per target (compare.py's table has none);
  * per-command latency of the IMAP load (median over the runs of each run's
    p50 / p99), so that a slow command stands out;
  * the idle runs: connections established and still alive at the end, and
    the server's memory before, with the idle connections, and after closing
    them (a server that does not give memory back shows it here);
  * postane's memory at each stage of run.sh (memory.jsonl).

  summary.py --baseline dovecot --fetch fetch.jsonl --memory memory.jsonl \
             compare-load.jsonl compare-idle-full.jsonl ...
"""
import argparse
import json
import re
import statistics
import sys


def load(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def med(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%%.%df" % nd) % v
    return str(v)


def ratio(a, b):
    return "%.2fx" % (a / b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "-"


def fetch_section(rows, base):
    if not rows:
        return []
    out = ["### Whole-mailbox FETCH, cold then warm", "",
           "One connection per server and mailbox: SELECT INBOX, then the same FETCH several times in a row. "
           "cold = the first FETCH of that mailbox since it was filled (postane: structure cache empty; "
           "Dovecot: no dovecot.index.cache yet, though its SELECT already indexed the Maildir); "
           "warm = median of the following ones. Times until the tagged OK, in ms.", "",
           "| mailbox | server | messages | SELECT ms | cold FETCH ms | warm FETCH ms | responses | KiB | error |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r.get("user"), r.get("label"), fmt(r.get("exists")), fmt(r.get("select_ms")),
            fmt(r.get("cold_ms")), fmt(r.get("warm_ms")),
            "/".join(str(x["responses"]) for x in r.get("runs", [])) or "-",
            fmt(r["runs"][0]["kib"]) if r.get("runs") else "-", r.get("error", "")))
    labels = []
    for r in rows:
        if r.get("label") not in labels:
            labels.append(r.get("label"))
    if base in labels and len(labels) > 1:
        out += ["", "| metric | " + " | ".join(labels) + " | " +
                " | ".join("%s/%s" % (l, base) for l in labels if l != base) + " |",
                "|---|" + "---|" * (2 * len(labels) - 1)]
        for key, name in (("select_ms", "SELECT ms"), ("cold_ms", "cold FETCH ms"), ("warm_ms", "warm FETCH ms")):
            m = {l: med([r.get(key) for r in rows if r.get("label") == l]) for l in labels}
            out.append("| %s (median) | " % name + " | ".join(fmt(m[l]) for l in labels) + " | " +
                       " | ".join(ratio(m[l], m[base]) for l in labels if l != base) + " |")
    return out + [""]


def errors_section(runs):
    out = ["### Errors per run", "",
           "imap_load.py counts a failed command (NO/BAD/timeout/closed connection) as one error and abandons "
           "that session (the rest of the session is not run; the client reconnects after 50 ms). "
           "Numbers in the messages are shown as N.", "",
           "| scenario | target | run | errors |", "|---|---|---|---|"]
    any_err = False
    for r in runs:
        err = {}
        for k, v in (r.get("errors") or {}).items():
            k = re.sub(r"\d+", "N", k)  # one line per kind: numbers (tags, sequence numbers, subjects) folded
            err[k] = err.get(k, 0) + v
        if r.get("error"):
            err["RUN FAILED: " + str(r["error"])[:200]] = 1
        if r.get("mode") == "idle" and r.get("established") is not None:
            lost = r["established"] - (r.get("alive_at_end") or 0)
            if lost:
                err["idle connections lost before DONE"] = lost
        if err:
            any_err = True
            out.append("| %s | %s | %s | %s |" % (r.get("scenario"), r.get("target"), r.get("run"),
                                                 "; ".join("%s × %s" % (v, k.replace("|", "/"))
                                                           for k, v in sorted(err.items(), key=lambda kv: -kv[1]))))
    if not any_err:
        out.append("| all | all | all | none |")
    return out + [""]


def per_command_section(runs, base):
    load_runs = [r for r in runs if r.get("mode") == "load"]
    if not load_runs:
        return []
    targets, cmds = [], []
    for r in load_runs:
        if r["target"] not in targets:
            targets.append(r["target"])
        for c in r.get("per_command", {}):
            if c not in cmds:
                cmds.append(c)
    order = ["CONNECT", "LOGIN", "SELECT", "FETCH_ALL", "FETCH_BODY", "SEARCH", "STORE", "APPEND", "LOGOUT"]
    cmds.sort(key=lambda c: order.index(c) if c in order else 99)
    out = ["### IMAP load per command", "",
           "Median over the runs of each run's count / p50 / p99 (ms). FETCH_ALL = "
           "`FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)` over the whole INBOX; CONNECT is not counted as an op.", ""]
    for scen in sorted(set(r["scenario"] for r in load_runs)):
        out += ["scenario: %s" % scen, "",
                "| command | " + " | ".join("%s n | %s p50 | %s p99" % (t, t, t) for t in targets) +
                " | p50 " + " | p50 ".join("%s/%s" % (t, base) for t in targets if t != base) + " |",
                "|---|" + "---|" * (3 * len(targets) + len([t for t in targets if t != base]))]
        for c in cmds:
            cells, p50 = [], {}
            for t in targets:
                rs = [r["per_command"].get(c) for r in load_runs
                      if r["scenario"] == scen and r["target"] == t and r.get("per_command", {}).get(c)]
                n, a, b = med([x["n"] for x in rs]), med([x["p50_ms"] for x in rs]), med([x["p99_ms"] for x in rs])
                p50[t] = a
                cells += [fmt(n, 0), fmt(a, 2), fmt(b, 2)]
            out.append("| %s | " % c + " | ".join(cells) + " | " +
                       " | ".join(ratio(p50[t], p50.get(base)) for t in targets if t != base) + " |")
        out.append("")
    return out


def idle_section(runs):
    idle = [r for r in runs if r.get("mode") == "idle"]
    if not idle:
        return []
    out = ["### Idle runs", "",
           "Server memory (sum over its process tree) before opening the connections, with all of them in IDLE "
           "(median of 3 samples), and after DONE + LOGOUT of all of them; MiB.", "",
           "| scenario | target | run | established | alive at end | open s | processes | PSS before / idle / after | "
           "RSS before / idle / after | per conn PSS KiB | per conn RSS KiB | retained after close, PSS KiB per conn |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def mib(d, k):
        return "%.1f" % (d[k] / 1024.0) if isinstance(d, dict) and k in d else "-"

    for r in idle:
        b, w, a = r.get("mem_before"), r.get("mem_with_idle"), r.get("mem_after_close")
        out.append("| %s | %s | %s | %s/%s | %s | %s | %s | %s / %s / %s | %s / %s / %s | %s | %s | %s |" % (
            r.get("scenario"), r.get("target"), r.get("run"), fmt(r.get("established")), fmt(r.get("requested")),
            fmt(r.get("alive_at_end")), fmt(r.get("open_s")), fmt(r.get("server_processes_with_idle")),
            mib(b, "pss_kb"), mib(w, "pss_kb"), mib(a, "pss_kb"), mib(b, "rss_kb"), mib(w, "rss_kb"),
            mib(a, "rss_kb"), fmt(r.get("per_conn_pss_kb")), fmt(r.get("per_conn_rss_kb")),
            fmt(r.get("retained_per_conn_pss_kb"))))
    return out + [""]


def memory_section(rows):
    if not rows:
        return []
    out = ["### postane's memory through the run", "",
           "| stage | RSS MiB | PSS MiB | private MiB | threads | alive |", "|---|---|---|---|---|---|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            r.get("stage"), fmt(r.get("rss_kb", 0) / 1024.0 if r.get("rss_kb") is not None else None),
            fmt(r.get("pss_kb", 0) / 1024.0 if r.get("pss_kb") is not None else None),
            fmt(r.get("private_kb", 0) / 1024.0 if r.get("private_kb") is not None else None),
            fmt(r.get("threads")), r.get("alive")))
    return out + [""]


IDLE_METRICS = [("established", "higher"), ("per_conn_pss_kb", "lower"), ("per_conn_private_kb", "lower"),
                ("per_conn_rss_kb", "lower"), ("retained_per_conn_pss_kb", "lower"), ("open_s", "lower")]
LOAD_METRICS = [("ops_per_s", "higher"), ("sessions_per_s", "higher"), ("op_p50_ms", "lower"),
                ("op_p99_ms", "lower"), ("server_cpu_ms_per_op", "lower"), ("client_cpu_pct", "info"),
                ("machine_cpu_busy_pct", "info")]


def derive(r):
    """retained_per_conn_pss_kb: memory still held after every idle connection
    was closed, per connection that was open ((after - before) / n)."""
    if r.get("mode") == "idle" and r.get("established"):
        b, a = r.get("mem_before") or {}, r.get("mem_after_close") or {}
        if "pss_kb" in b and "pss_kb" in a:
            r["retained_per_conn_pss_kb"] = round((a["pss_kb"] - b["pss_kb"]) / r["established"], 1)
    return r


def compare_table(runs, base):
    """The same table as compare.py prints (medians, ratio to the baseline)."""
    scens, targets = [], []
    for r in runs:
        if r.get("scenario") not in scens:
            scens.append(r.get("scenario"))
        if r.get("target") not in targets:
            targets.append(r.get("target"))
    targets.sort(key=lambda t: t != base)
    others = [t for t in targets if t != base]
    out = ["| scenario | metric | better | " + " | ".join(targets) +
           "".join(" | %s/%s" % (t, base) for t in others) + " |",
           "|" + "---|" * (3 + len(targets) + len(others))]
    for sc in scens:
        kind = next((r.get("mode") for r in runs if r.get("scenario") == sc), None)
        for m, better in (IDLE_METRICS if kind == "idle" else LOAD_METRICS):
            meds = {t: med([r.get(m) for r in runs if r.get("scenario") == sc and r.get("target") == t])
                    for t in targets}
            if all(v is None for v in meds.values()):
                continue
            v = [meds[t] for t in targets]
            cells = ["-" if x is None else ("%.3g" % x if abs(x) < 100 else "%.0f" % x) for x in v]
            out.append("| %s | %s | %s | " % (sc, m, better) + " | ".join(cells) +
                       "".join(" | " + ratio(meds[t], meds.get(base)) for t in others) + " |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("compare", nargs="*", help="compare.py --out files (JSON lines)")
    ap.add_argument("--baseline", default="dovecot")
    ap.add_argument("--fetch", default=None)
    ap.add_argument("--memory", default=None)
    ap.add_argument("--table-only", action="store_true",
                    help="print only compare.py's table (medians and ratios) for the given runs")
    a = ap.parse_args()
    runs = []
    for p in a.compare:
        runs += [derive(r) for r in load(p)]
    if a.table_only:
        print("\n".join(compare_table(runs, a.baseline)))
        return 0
    lines = []
    if a.fetch:
        lines += fetch_section(load(a.fetch), a.baseline)
    lines += errors_section(runs)
    lines += per_command_section(runs, a.baseline)
    lines += idle_section(runs)
    if a.memory:
        lines += memory_section(load(a.memory))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
