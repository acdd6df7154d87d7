#!/usr/bin/env python3
"""tls_handshake.py - TLS handshake rate of an implicit-TLS server (IMAPS, POP3S,
SMTPS), Python 3 standard library only.

  run    C concurrent clients (threads spread over --procs processes) loop for
         --duration seconds: TCP connect, full TLS handshake (a new session every
         time: no session is ever offered back, so no resumption), read the
         greeting line (until CRLF; it must start with --expect), close.
         Reports handshakes/s (completed greetings), latency percentiles (TCP
         connect, handshake, greeting, total), errors, the negotiated protocol
         and cipher, the client's CPU, and with --server-pid/--server-pidfile the
         server's CPU per handshake (whole process tree, reaped children
         included: Dovecot's login processes).
  table  medians of the run results per label and ratios to the baselines.

  tls_handshake.py run --port 21993 -c 16 --duration 10 --server-pid 1234 --label postane --json out.jsonl
  tls_handshake.py table --baseline dovecot out.jsonl

Close: by default the client closes the TCP connection right after the
greeting, without a TLS close_notify (--close abort); --close logout sends
"a1 LOGOUT" (IMAP) and reads until the tagged reply first; --close notify sends
close_notify and closes without waiting for the server's.

The certificate is not verified (self-signed), but the server still does the
full handshake: certificate, CertificateVerify signature, key exchange.
Loopback only unless --allow-non-loopback. Every socket operation has a
timeout (--timeout) and the run ends after --duration.
"""
import argparse
import ipaddress
import json
import multiprocessing as mp
import os
import socket
import ssl
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import benchutil  # noqa: E402
benchutil.use_shared_bench()
import procmem  # noqa: E402
import sysstat  # noqa: E402


def pct(vals, p):
    if not vals:
        return None
    k = min(len(vals) - 1, max(0, int(round(p / 100.0 * (len(vals) - 1)))))
    return vals[k]


def check_loopback(host):
    for info in socket.getaddrinfo(host, None):
        if not ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback:
            return False
    return True


def make_ctx(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if a.tls_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif a.tls_version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.options |= ssl.OP_NO_TICKET  # (TLS 1.2) never ask for a ticket; TLS 1.3 tickets are ignored
    return ctx


def one(a, ctx, expect):
    """One connection; returns (t_connect, t_handshake, t_greeting, version, cipher)."""
    t0 = time.perf_counter()
    raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t1 = time.perf_counter()
        s = ctx.wrap_socket(raw, server_hostname=a.sni, do_handshake_on_connect=False)
        s.do_handshake()
        t2 = time.perf_counter()
        buf = b""
        while b"\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise ConnectionError("closed before the greeting")
            buf += d
            if len(buf) > 65536:
                raise ConnectionError("no CRLF in the greeting")
        t3 = time.perf_counter()
        if not buf.startswith(expect):
            raise ValueError("greeting: %r" % buf[:60])
        version, cipher = s.version(), s.cipher()[0]
        if a.close == "logout":
            s.sendall(b"a1 LOGOUT\r\n")
            while b"\r\na1 " not in b"\r\n" + buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
        elif a.close == "notify":
            try:
                s.setblocking(False)
                s.unwrap()  # sends close_notify; does not wait in non-blocking mode
            except (ssl.SSLWantReadError, ssl.SSLError, OSError):
                pass
        return t1 - t0, t2 - t1, t3 - t2, version, cipher
    finally:
        raw.close()


def worker(a, nthreads, deadline, q):
    ctx = make_ctx(a)
    expect = a.expect.encode()
    lats = {"connect": [], "handshake": [], "greeting": [], "total": []}
    errors, versions, ciphers = {}, {}, {}
    lock = threading.Lock()

    def loop():
        while time.time() < deadline:
            t = time.perf_counter()
            try:
                tc, th, tg, ver, cip = one(a, ctx, expect)
            except Exception as e:  # noqa: BLE001 - every failure is counted
                key = type(e).__name__ + ":" + str(e)[:80]
                with lock:
                    errors[key] = errors.get(key, 0) + 1
                time.sleep(0.05)
                continue
            tot = time.perf_counter() - t
            with lock:
                lats["connect"].append(tc)
                lats["handshake"].append(th)
                lats["greeting"].append(tg)
                lats["total"].append(tot)
                versions[ver] = versions.get(ver, 0) + 1
                ciphers[cip] = ciphers.get(cip, 0) + 1

    c0 = os.times()
    ths = [threading.Thread(target=loop, daemon=True) for _ in range(nthreads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(timeout=max(1.0, deadline - time.time()) + a.timeout + 5)
    c1 = os.times()
    q.put({"lats": lats, "errors": errors, "versions": versions, "ciphers": ciphers,
           "cpu_s": (c1.user - c0.user) + (c1.system - c0.system)})


def cmd_run(a):
    procs = max(1, min(a.procs, a.concurrency))
    per = [a.concurrency // procs + (1 if i < a.concurrency % procs else 0) for i in range(procs)]
    srv_root = None
    if a.server_pid or a.server_pidfile:
        srv_root = procmem.read_pid(a.server_pid, a.server_pidfile)
    q = mp.Queue()
    st0 = sysstat.cpu_snapshot()
    srv0 = procmem.tree_cpu_seconds(srv_root) if srv_root else None
    t0 = time.perf_counter()
    deadline = time.time() + a.duration
    ps = [mp.Process(target=worker, args=(a, n, deadline, q), daemon=True) for n in per]
    for p in ps:
        p.start()
    parts = []
    for _ in ps:
        try:
            parts.append(q.get(timeout=a.duration + a.timeout + 30))
        except Exception:  # noqa: BLE001
            break
    el = time.perf_counter() - t0
    srv1 = procmem.tree_cpu_seconds(srv_root) if srv_root else None
    st1 = sysstat.cpu_snapshot()
    for p in ps:
        p.join(timeout=5)
        if p.is_alive():
            p.terminate()
    lats = {k: sorted(x for part in parts for x in part["lats"][k]) for k in ("connect", "handshake", "greeting", "total")}
    n = len(lats["total"])

    def merge(key):
        out = {}
        for part in parts:
            for k, v in part[key].items():
                out[k] = out.get(k, 0) + v
        return out

    res = {"tool": "tls_handshake", "label": a.label, "host": a.host, "port": a.port,
           "concurrency": a.concurrency, "procs": procs, "close": a.close, "duration_s": round(el, 3),
           "handshakes": n, "handshakes_per_s": round(n / el, 1) if el else None,
           "errors": merge("errors"), "failed": sum(merge("errors").values()),
           "tls_versions": merge("versions"), "ciphers": merge("ciphers"),
           "workers_reported": len(parts)}
    for k in ("connect", "handshake", "greeting", "total"):
        res["%s_p50_ms" % k] = round(pct(lats[k], 50) * 1000, 3) if lats[k] else None
        res["%s_p99_ms" % k] = round(pct(lats[k], 99) * 1000, 3) if lats[k] else None
    res["client_cpu_pct"] = round(100.0 * sum(p["cpu_s"] for p in parts) / el, 1) if el else None
    res["client_cpu_ms_per_handshake"] = round(1000.0 * sum(p["cpu_s"] for p in parts) / n, 3) if n else None
    res.update(sysstat.cpu_usage(st0, st1))
    if srv_root:
        res["server_cpu_s"] = round(srv1 - srv0, 2)
        res["server_cpu_pct"] = round(100.0 * (srv1 - srv0) / el, 1)
        res["server_cpu_ms_per_handshake"] = round(1000.0 * (srv1 - srv0) / n, 3) if n else None
    return res


METRICS = [("handshakes_per_s", "higher"), ("server_cpu_ms_per_handshake", "lower"),
           ("total_p50_ms", "lower"), ("total_p99_ms", "lower"), ("handshake_p50_ms", "lower"),
           ("connect_p50_ms", "lower"), ("greeting_p50_ms", "lower"), ("failed", "lower"),
           ("server_cpu_pct", "info"), ("client_cpu_pct", "info"), ("client_cpu_ms_per_handshake", "info"),
           ("machine_cpu_busy_pct", "info")]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.3g" % v if abs(v) < 100 else "%.0f" % v
    return str(v)


def cmd_table(a):
    rows = []
    for path in a.files:
        with open(path) as f:
            rows += [json.loads(l) for l in f if l.strip().startswith("{")]
    labels = []
    for r in rows:
        if r.get("label") not in labels:
            labels.append(r.get("label"))
    bases = [b for b in a.baseline if b in labels]
    others = [l for l in labels if l not in bases]
    labels = bases + others
    cols = ["%s/%s" % (o, b) for o in others for b in bases]
    lines = ["| metric | better | " + " | ".join(labels) + (" | " + " | ".join(cols) if cols else "") + " |",
             "|---|---|" + "---|" * (len(labels) + len(cols))]
    for m, better in METRICS:
        meds = {}
        for l in labels:
            vals = [r[m] for r in rows if r.get("label") == l and isinstance(r.get(m), (int, float))]
            meds[l] = statistics.median(vals) if vals else None
        if all(v is None for v in meds.values()):
            continue
        rat = []
        for o in others:
            for b in bases:
                rat.append("%.2fx" % (meds[o] / meds[b]) if meds[o] is not None and meds[b] else "-")
        lines.append("| %s | %s | " % (m, better) + " | ".join(fmt(meds[l]) for l in labels) +
                     (" | " + " | ".join(rat) if rat else "") + " |")
    nruns = {l: sum(1 for r in rows if r.get("label") == l) for l in labels}
    lines.append("")
    lines.append("medians of %s runs per server; protocol/cipher: %s" % (
        ", ".join("%s %d" % kv for kv in nruns.items()),
        "; ".join("%s %s %s" % (l, ",".join(sorted({v for r in rows if r.get("label") == l for v in r.get("tls_versions", {})})),
                                ",".join(sorted({v for r in rows if r.get("label") == l for v in r.get("ciphers", {})})))
                  for l in labels)))
    errs = [(r.get("label"), r.get("run"), r["errors"]) for r in rows if r.get("errors")]
    for l, run, e in errs:
        lines.append("errors %s run %s: %s" % (l, run, "; ".join("%d × %s" % (v, k) for k, v in e.items())))
    print("\n".join(lines))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("run")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("-c", "--concurrency", type=int, default=16, help="clients at once (threads)")
    p.add_argument("--procs", type=int, default=2, help="client processes the threads are spread over")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=10.0, help="per socket operation (s)")
    p.add_argument("--expect", default="* OK", help="the greeting must start with this")
    p.add_argument("--sni", default=None, help="server name to send (default: none)")
    p.add_argument("--tls-version", choices=["any", "1.2", "1.3"], default="any")
    p.add_argument("--close", choices=["abort", "logout", "notify"], default="abort")
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument("--server-pidfile", default=None)
    p.add_argument("--label", default="")
    p.add_argument("--run", type=int, default=None, help="run number, stored in the result")
    p.add_argument("--json", default=None, help="append the result as one JSON line to this file ('-' = stdout)")
    p.add_argument("--allow-non-loopback", action="store_true")
    p = sub.add_parser("table")
    p.add_argument("files", nargs="+")
    p.add_argument("--baseline", action="append", default=[], help="label(s) to divide by (repeatable)")
    a = ap.parse_args()
    if a.mode == "table":
        return cmd_table(a)
    if not a.allow_non_loopback and not check_loopback(a.host):
        print("refusing non-loopback target %s" % a.host, file=sys.stderr)
        return 2
    res = cmd_run(a)
    if a.run is not None:
        res["run"] = a.run
    benchutil.emit_result(res, a.json)
    return 0 if res["handshakes"] else 1


if __name__ == "__main__":
    sys.exit(main())
