#!/usr/bin/env python3
"""stall_check.py - do other sessions wait while one session runs a big FETCH?

Opens --pingers connections (LOGIN as --ping-user) that each send NOOP every
10 ms and time the answer. After 1 s, one more connection (LOGIN as
--big-user, SELECT INBOX) sends "FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)":
once (--once; on a mailbox nobody has fetched yet, that is the cold FETCH),
or in a loop for --seconds. Prints each pinger's NOOP count, p50, p99 and max.
Pingers that share an event-loop thread with the big FETCH show a max (and
p99 when looping) about as long as one big FETCH; the others stay below a few ms.

  stall_check.py --port 21143 --big-user imap1@bench.test --ping-user imap2@bench.test [--once]

Uses the IMAP client of the shared imap_load.py (SHARED_BENCH). Loopback only,
bounded by --seconds and a 60 s timeout per read.
"""
import argparse
import asyncio
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import benchutil  # noqa: E402
benchutil.use_shared_bench()
import imap_load  # noqa: E402


async def login(a, user):
    c = imap_load.IMAP(60)
    await c.connect(a.host, a.port)
    await c.command(b"LOGIN " + imap_load.qstr(user) + b" " + imap_load.qstr(a.password))
    return c


async def pinger(a, i, stop, res):
    c = await login(a, a.ping_user)
    lat = []
    while not stop.is_set():
        t = time.perf_counter()
        await c.command(b"NOOP")
        lat.append((time.perf_counter() - t) * 1000)
        await asyncio.sleep(0.01)
    await c.command(b"LOGOUT")
    c.close()
    lat.sort()
    res[i] = (len(lat), lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1])


async def main(a):
    stop, res = asyncio.Event(), {}
    ps = [asyncio.create_task(pinger(a, i, stop, res)) for i in range(a.pingers)]
    await asyncio.sleep(1.0)
    c = await login(a, a.big_user)
    await c.command(b"SELECT INBOX")
    t0, times = time.perf_counter(), []
    while True:
        t = time.perf_counter()
        await c.command(b"FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)")
        times.append((time.perf_counter() - t) * 1000)
        if a.once or time.perf_counter() - t0 > a.seconds:
            break
    await c.command(b"LOGOUT")
    c.close()
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*ps)
    first = times[0]
    times.sort()
    print("big FETCH: %d in %.1f s, first %.0f ms, median %.0f ms" % (
        len(times), time.perf_counter() - t0, first, times[len(times) // 2]))
    for i in sorted(res):
        print("pinger %d: %d NOOPs, p50 %.2f ms, p99 %.1f ms, max %.1f ms" % ((i,) + res[i]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--big-user", required=True, help="login whose INBOX gets the big FETCH")
    ap.add_argument("--ping-user", required=True, help="login of the pingers (any account)")
    ap.add_argument("--password", default="pass")
    ap.add_argument("--pingers", type=int, default=6)
    ap.add_argument("--once", action="store_true", help="one big FETCH instead of a loop")
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to loop the big FETCH")
    a = ap.parse_args()
    if not imap_load.check_loopback(a.host):
        sys.exit("refusing non-loopback target %s" % a.host)
    asyncio.run(main(a))
