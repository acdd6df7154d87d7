#!/usr/bin/env python3
"""fetch_time.py - time one big FETCH over a whole mailbox, several times in a
row on the same connection: the first time is "cold" when nothing has fetched
that mailbox yet (postane: structure cache empty; Dovecot: no cache file), the
following ones are "warm".

  fetch_time.py --port 21143 --user imap1@bench.test [--repeat 4]
                [--fetch '1:* (ENVELOPE)'] [--json -]

It uses the IMAP client of the shared imap_load.py (literals skipped by length;
SHARED_BENCH or ../../../shared/bench). Every response line is read, so the
time is until the tagged OK of the FETCH. Loopback only, every read bounded by
--timeout. Prints one JSON object: login/select times, EXISTS, and for each
FETCH its time, the number of FETCH responses and the bytes received.
"""
import argparse
import asyncio
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import benchutil  # noqa: E402
benchutil.use_shared_bench()
import imap_load  # noqa: E402


async def run(a):
    imap = imap_load.IMAP(a.timeout)
    res = {"tool": "fetch_time", "label": a.label, "host": a.host, "port": a.port, "user": a.user,
           "fetch": a.fetch}
    t = time.perf_counter()
    await imap.connect(a.host, a.port)
    res["connect_ms"] = round((time.perf_counter() - t) * 1000, 2)
    t = time.perf_counter()
    await imap.command(b"LOGIN " + imap_load.qstr(a.user) + b" " + imap_load.qstr(a.password))
    res["login_ms"] = round((time.perf_counter() - t) * 1000, 2)
    t = time.perf_counter()
    out = await imap.command(b"EXAMINE INBOX" if a.examine else b"SELECT INBOX", collect=True)
    res["select_ms"] = round((time.perf_counter() - t) * 1000, 2)
    exists = None
    for line in out:
        m = re.match(rb"\* (\d+) EXISTS", line)
        if m:
            exists = int(m.group(1))
    res["exists"] = exists
    runs = []
    for _ in range(a.repeat):
        rx0 = imap.rx
        t = time.perf_counter()
        out = await imap.command(b"FETCH " + a.fetch.encode(), collect=True)
        el = time.perf_counter() - t
        n = sum(1 for line in out if re.match(rb"\* \d+ FETCH ", line))
        runs.append({"ms": round(el * 1000, 1), "responses": n, "kib": round((imap.rx - rx0) / 1024, 1)})
    res["runs"] = runs
    res["cold_ms"] = runs[0]["ms"] if runs else None
    warm = sorted(r["ms"] for r in runs[1:])
    res["warm_ms"] = warm[len(warm) // 2] if warm else None  # median of the repeats
    res["complete"] = all(r["responses"] == exists for r in runs)
    try:
        await imap.command(b"LOGOUT")
    finally:
        imap.close()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="pass")
    ap.add_argument("--fetch", default="1:* (ENVELOPE)", help="FETCH arguments (default '1:* (ENVELOPE)')")
    ap.add_argument("--repeat", type=int, default=4, help="FETCHes in a row; the first is the cold one")
    ap.add_argument("--examine", action="store_true", help="EXAMINE instead of SELECT")
    ap.add_argument("--timeout", type=float, default=120.0, help="per-read timeout (s)")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", default=None, help="append the result as one JSON line to this file ('-' = stdout)")
    a = ap.parse_args()
    if not imap_load.check_loopback(a.host):
        print("refusing non-loopback target %s" % a.host, file=sys.stderr)
        return 2
    try:
        res = asyncio.run(run(a))
    except (imap_load.IMAPError, asyncio.TimeoutError, OSError, asyncio.IncompleteReadError) as e:
        res = {"tool": "fetch_time", "label": a.label, "user": a.user,
               "error": "%s: %s" % (type(e).__name__, str(e)[:300])}
    benchutil.emit_result(res, a.json)
    return 1 if "error" in res else 0


if __name__ == "__main__":
    sys.exit(main())
