#!/usr/bin/python3
"""outbound_bench.py - outbound delivery throughput: messages delivered per
second from the queue to a local SMTP sink at 32 parallel deliveries,
postane beside Postfix relaying to the same sink, in the same run.

One sink (a small asyncio SMTP server in a process of its own, on
127.0.0.9) counts what arrives. Each target is fed N messages over SMTP by
C concurrent sessions, and a phase is timed from the first injection until
the sink holds all N messages of that phase:

  postfix  a PostfixPeer (tests/e2e/postfix_peer.py) as a relay:
           relayhost = [127.0.0.9]:PORT, default_/smtp_destination_
           concurrency_limit = 32, otherwise Postfix's defaults; fed on its
           SMTP port from loopback (mynetworks).
  postane  postane serve with [delivery] dns_servers = a tiny DNS server
           here (MX sink.test -> mx.sink.test -> 127.0.0.9), port = PORT,
           concurrency_per_domain = 32; fed over authenticated submission
           ([auth] plaintext_loopback = yes: AUTH PLAIN without TLS).

Every message carries "X-Bench-Seq: <phase>-<i>": the sink counts only the
current phase's messages (late ones from an earlier phase are "stray") and
counts duplicates. Runs are interleaved (postfix, postane, postfix, ...).
Every wait is bounded; everything started here is stopped here, by PID.

Needs Debian's python3 (/usr/bin/python3: python3-aiosmtpd, python3-dnslib),
root (Postfix), and the postane binary for the postane target.

  /usr/bin/python3 bench/outbound/outbound_bench.py [-n 2000] [--runs 1]
        [--targets postfix,postane] [--concurrency 32] [--json FILE]
"""

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(HERE.parent / "lib"))

from postfix_peer import PostfixPeer  # noqa: E402
from smtp_sink import free_port, port_free  # noqa: E402

SINK_ADDRESS = "127.0.0.9"
RELAY_ADDRESS = "127.0.0.10"
SINK_DOMAIN = "sink.test"
SINK_MX = "mx.sink.test"
USER = "bench@bench.test"
PASSWORD = "bench password"
SEQ_HEADER = b"\r\nX-Bench-Seq: "


def log(msg):
    print(f"[outbound] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the sink

class _SinkState:
    def __init__(self, count, last, refuse):
        self.count = count        # mp.Value: messages of the current phase
        self.last = last          # mp.Value: monotonic time of the last one
        self.refuse = refuse      # mp.Value: greet with 421 and close
        self.refused = 0
        self.phase = 0
        self.tag = b""
        self.seen = set()
        self.dups = 0
        self.stray = 0
        self.rcpts = 0
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.first = 0.0

    def reset(self, tag):
        self.tag = tag.encode() + b"-"
        self.seen.clear()
        self.dups = self.stray = self.rcpts = self.connections = self.refused = 0
        # Connections left open from an earlier phase (connection caches)
        # do not count towards this phase's parallelism.
        self.phase += 1
        self.open = self.max_open = 0
        self.first = 0.0
        self.count.value = 0
        self.last.value = 0.0

    def message(self, data, nrcpt):
        i = data.find(SEQ_HEADER)
        seq = b""
        if i >= 0:
            j = data.find(b"\r\n", i + len(SEQ_HEADER))
            seq = bytes(data[i + len(SEQ_HEADER):j])
        if not seq.startswith(self.tag):
            self.stray += 1
            return
        if seq in self.seen:
            self.dups += 1
            return
        self.seen.add(seq)
        self.rcpts += nrcpt
        now = time.monotonic()
        if not self.first:
            self.first = now
        self.last.value = now
        self.count.value += 1

    def stats(self):
        return {"messages": self.count.value, "duplicates": self.dups, "stray": self.stray,
                "rcpts": self.rcpts, "connections": self.connections, "refused": self.refused,
                "max_parallel": self.max_open, "first": self.first, "last": self.last.value}


class _SinkProtocol(asyncio.Protocol):
    """A minimal SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
    QUIT; pipelining-safe (replies in order, one write per read)."""

    MAX_LINE = 4096

    def __init__(self, state):
        self.st = state
        self.buf = bytearray()
        self.in_data = False
        self.scan = 0
        self.nrcpt = 0
        self.mail = False
        self.tr = None
        self.refused = False
        self.phase = -1

    def connection_made(self, tr):
        self.tr = tr
        st = self.st
        if st.refuse.value:
            st.refused += 1
            self.refused = True
            tr.write(b"421 4.3.2 sink.bench not accepting mail yet\r\n")
            tr.close()
            return
        self.phase = st.phase
        st.connections += 1
        st.open += 1
        st.max_open = max(st.max_open, st.open)
        tr.write(b"220 sink.bench ESMTP\r\n")

    def connection_lost(self, exc):
        if not self.refused and self.phase == self.st.phase:
            self.st.open -= 1

    def data_received(self, data):
        if self.tr.is_closing():
            return
        buf = self.buf
        buf += data
        out = []
        close = False
        while buf:
            if self.in_data:
                if buf.startswith(b".\r\n") and self.scan == 0:
                    end, skip = 0, 3
                else:
                    i = buf.find(b"\r\n.\r\n", max(0, self.scan - 4))
                    if i < 0:
                        self.scan = len(buf)
                        break
                    end, skip = i + 2, i + 5
                self.st.message(buf[:end], self.nrcpt)
                del buf[:skip]
                self.in_data = False
                self.scan = 0
                self.mail = False
                self.nrcpt = 0
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            i = buf.find(b"\r\n")
            if i < 0:
                if len(buf) > self.MAX_LINE:
                    out.append(b"500 5.5.2 line too long\r\n")
                    close = True
                break
            line = bytes(buf[:i])
            del buf[:i + 2]
            verb = line[:4].upper()
            if verb == b"EHLO":
                out.append(b"250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                           b"250-SIZE 52428800\r\n250 ENHANCEDSTATUSCODES\r\n")
            elif verb == b"HELO":
                out.append(b"250 sink.bench\r\n")
            elif verb == b"MAIL":
                self.mail = True
                self.nrcpt = 0
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                if self.mail:
                    self.nrcpt += 1
                    out.append(b"250 2.1.5 Ok\r\n")
                else:
                    out.append(b"503 5.5.1 need MAIL\r\n")
            elif verb == b"DATA":
                if self.nrcpt:
                    self.in_data = True
                    out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                else:
                    out.append(b"503 5.5.1 need RCPT\r\n")
            elif verb == b"RSET":
                self.mail = False
                self.nrcpt = 0
                out.append(b"250 2.0.0 Ok\r\n")
            elif verb == b"NOOP":
                out.append(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                close = True
                break
            else:
                out.append(b"502 5.5.2 command not implemented\r\n")
        if out:
            self.tr.write(b"".join(out))
        if close:
            self.tr.close()


def _sink_main(address, port, conn, count, last, refuse):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops us
    state = _SinkState(count, last, refuse)
    loop = asyncio.new_event_loop()

    def on_command():
        try:
            cmd = conn.recv()
        except EOFError:
            loop.stop()
            return
        if cmd[0] == "reset":
            state.reset(cmd[1])
            conn.send("ok")
        elif cmd[0] == "stats":
            conn.send(state.stats())
        elif cmd[0] == "stop":
            conn.send("ok")
            loop.stop()

    server = loop.run_until_complete(loop.create_server(
        lambda: _SinkProtocol(state), address, port, backlog=1024, reuse_address=True))
    loop.add_reader(conn.fileno(), on_command)
    conn.send("ready")
    loop.run_forever()
    server.close()


class Sink:
    """The sink in a child process; count()/last() are shared memory."""

    def __init__(self, address, port):
        self.address, self.port = address, port
        ctx = multiprocessing.get_context("fork")
        self._count = ctx.Value("l", 0, lock=False)
        self._last = ctx.Value("d", 0.0, lock=False)
        self._refuse = ctx.Value("b", 0, lock=False)
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sink_main, daemon=True,
                                args=(address, port, child, self._count, self._last,
                                      self._refuse))

    def start(self):
        self.proc.start()
        if not self._conn.poll(10) or self._conn.recv() != "ready":
            raise RuntimeError(f"sink did not start on {self.address}:{self.port}")
        return self

    def _ask(self, *cmd):
        self._conn.send(cmd)
        if not self._conn.poll(10):
            raise RuntimeError(f"sink did not answer {cmd[0]}")
        return self._conn.recv()

    def reset(self, tag):
        self._ask("reset", tag)

    def stats(self):
        return self._ask("stats")

    def count(self):
        return self._count.value

    def refuse(self, on):
        """While on, every connection gets "421" at once (deliveries defer)."""
        self._refuse.value = 1 if on else 0

    def stop(self):
        if self.proc.is_alive():
            try:
                self._ask("stop")
            except (RuntimeError, OSError, EOFError):
                pass
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(5)


# ---------------------------------------------------------------- DNS

def start_dns(port, sink_address):
    """A UDP DNS server on 127.0.0.1:port: MX sink.test -> mx.sink.test,
    A mx.sink.test -> sink_address, NODATA for their other types, NXDOMAIN
    for anything else."""
    from dnslib import QTYPE, RCODE, RR, A, MX
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    class Resolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            q = request.q
            name = str(q.qname).rstrip(".").lower()
            if name == SINK_DOMAIN:
                if q.qtype == QTYPE.MX:
                    reply.add_answer(RR(q.qname, QTYPE.MX, rdata=MX(SINK_MX + ".", 10), ttl=300))
            elif name == SINK_MX:
                if q.qtype == QTYPE.A:
                    reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(sink_address), ttl=300))
            else:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    quiet = DNSLogger(logf=lambda _s: None)
    servers = [DNSServer(Resolver(), port=port, address="127.0.0.1", logger=quiet),
               DNSServer(Resolver(), port=port, address="127.0.0.1", logger=quiet, tcp=True)]
    for s in servers:
        s.start_thread()
    return servers


# ---------------------------------------------------------------- postane

def set_config(conf, section, key, value):
    """Set key = value in [section] of postane.conf (line-based)."""
    lines = conf.read_text().splitlines()
    out, cur, done, insert_at = [], None, False, None
    for line in lines:
        m = re.match(r"\s*\[([^\]]+)\]\s*$", line)
        if m:
            if cur == section and not done and insert_at is None:
                insert_at = len(out)
            cur = m.group(1)
            out.append(line)
            continue
        km = re.match(r"\s*([A-Za-z0-9_]+)\s*=", line)
        if cur == section and km and km.group(1) == key:
            out.append(f"{key} = {value}")
            done = True
            continue
        out.append(line)
    if not done:
        if cur == section and insert_at is None:
            insert_at = len(out)
        if insert_at is None:
            out += ["", f"[{section}]"]
            insert_at = len(out)
        out.insert(insert_at, f"{key} = {value}")
    conf.write_text("\n".join(out) + "\n")


def get_config(conf, section, key):
    cur = None
    for line in conf.read_text().splitlines():
        m = re.match(r"\s*\[([^\]]+)\]\s*$", line)
        if m:
            cur = m.group(1)
            continue
        km = re.match(r"\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$", line)
        if cur == section and km and km.group(1) == key:
            return km.group(2)
    return None


class Postane:
    def __init__(self, binary, root, sink_port, dns_port, concurrency):
        self.bin = binary
        self.dir = Path(root) / "postane"
        self.conf = self.dir / "postane.conf"
        self.log_path = Path(root) / "postane.log"
        self.proc = None
        base = None
        for _ in range(200):
            b = random.randrange(20000, 60000, 10)
            if all(port_free(b + off) for off in (25, 587, 465, 143, 993, 110, 995, 80)):
                base = b
                break
        if base is None:
            raise RuntimeError("no free port base for postane")
        self._cli("init", str(self.dir), "--domain", "bench.test", "--port-base", str(base),
                  config=False)
        self._cli("user", "add", USER, input=PASSWORD + "\n")
        set_config(self.conf, "auth", "plaintext_loopback", "yes")
        set_config(self.conf, "delivery", "dns_servers", f"127.0.0.1:{dns_port}")
        set_config(self.conf, "delivery", "port", sink_port)
        set_config(self.conf, "delivery", "concurrency_per_domain", concurrency)
        # A transient failure is retried soon rather than after 5 minutes.
        set_config(self.conf, "delivery", "retry_schedule", "5")
        self.submission_port = int(get_config(self.conf, "listen", "submission"))

    def _cli(self, *args, input=None, config=True):
        argv = [self.bin] + (["-c", str(self.conf)] if config else []) + list(args)
        r = subprocess.run(argv, input=(input or "").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {r.stderr.decode(errors='replace')}")
        return r.stdout.decode(errors="replace")

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        with open(self.log_path, "ab") as f:
            self.proc = subprocess.Popen([self.bin, "-c", str(self.conf), "serve"],
                                         stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postane exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.submission_port), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"postane submission port not ready:\n{self.log()[-3000:]}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def queue_summary(self):
        try:
            return self._cli("queue", "list").strip().splitlines()[-3:]
        except (RuntimeError, subprocess.SubprocessError) as e:
            return [str(e)[:300]]

    def flush(self):
        """postane queue flush: every queued message is due now."""
        self._cli("queue", "flush")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# ---------------------------------------------------------------- injection

def make_message(tag, i, size):
    head = (f"From: {USER}\r\nTo: r{i % 100}@{SINK_DOMAIN}\r\nSubject: outbound bench {i}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
            f"Message-ID: <{tag}.{i}@bench.test>\r\nX-Bench-Seq: {tag}-{i}\r\n\r\n").encode()
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


async def _reply(reader):
    """(code, text) of one SMTP reply, multi-line included."""
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


async def _cmd(reader, writer, data, want):
    writer.write(data)
    code, text = await _reply(reader)
    if code != want:
        raise RuntimeError(f"{data[:40]!r} -> {text[:200]!r}")


async def inject(host, port, n, concurrency, size, tag, auth, timeout):
    """Send n messages over `concurrency` sessions (each reused for many
    messages). Returns {accepted, failed, errors, seconds}."""
    next_i = iter(range(n))
    res = {"accepted": 0, "failed": 0, "errors": []}
    auth_line = None
    if auth:
        token = base64.b64encode(f"\0{auth[0]}\0{auth[1]}".encode()).decode()
        auth_line = f"AUTH PLAIN {token}\r\n".encode()

    async def session():
        reader = writer = None
        for i in next_i:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    code, text = await _reply(reader)
                    if code != 220:
                        raise RuntimeError(f"greeting {text[:100]!r}")
                    await _cmd(reader, writer, b"EHLO inject.bench\r\n", 250)
                    if auth_line:
                        await _cmd(reader, writer, auth_line, 235)
                await _cmd(reader, writer, f"MAIL FROM:<{USER}>\r\n".encode(), 250)
                await _cmd(reader, writer, f"RCPT TO:<r{i % 100}@{SINK_DOMAIN}>\r\n".encode(), 250)
                await _cmd(reader, writer, b"DATA\r\n", 354)
                await _cmd(reader, writer, make_message(tag, i, size) + b".\r\n", 250)
                res["accepted"] += 1
            except (OSError, RuntimeError, ConnectionError, asyncio.IncompleteReadError) as e:
                res["failed"] += 1
                if len(res["errors"]) < 5:
                    res["errors"].append(str(e)[:200])
                if writer is not None:
                    writer.close()
                writer = None
                if res["failed"] > 50:
                    raise RuntimeError(f"too many injection failures: {res['errors']}")
        if writer is not None:
            try:
                writer.write(b"QUIT\r\n")
                await asyncio.wait_for(_reply(reader), 5)
            except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                pass
            writer.close()

    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(session() for _ in range(concurrency))), timeout)
    res["seconds"] = time.monotonic() - t0
    return res


# ---------------------------------------------------------------- CPU

def tree_cpu_seconds(root_pid):
    """utime+stime(+reaped children) of the process tree under root_pid."""
    kids = {}
    stats = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
        stats[int(d)] = rest
    total, todo = 0, [root_pid]
    while todo:
        p = todo.pop()
        if p in stats:
            r = stats[p]
            total += int(r[11]) + int(r[12]) + int(r[13]) + int(r[14])
        todo += kids.get(p, [])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v), v[3] + v[4]


# ---------------------------------------------------------------- one phase

def settle(sink, target, timeout):
    """Before a preload release: wait (bounded) until every accepted message
    has had its refused first attempt, so that the flush finds them all
    deferred: the sink's refusal count has not moved for a second and the
    target says its queue is settled (Postfix: nothing left in incoming/
    or active/; mail deferred after the flush would wait 5 minutes)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = sink.stats()["refused"]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= 1.0 and target.get("settled", lambda: True)():
            return True
        time.sleep(0.1)
    log("  warning: queue not settled before the release")
    return False


def run_phase(name, target, sink, args, run, mode):
    """One target, one mode:
    stream   timed from the first injection until the sink has them all;
    preload  the sink refuses (421) while all N are injected and queued,
             then accepts, the target's queue is flushed (postqueue -f,
             postane queue flush), and the time runs from that release."""
    tag = f"{name}{run}{mode[0]}x{random.randrange(1 << 30):x}"
    sink.reset(tag)
    sink.refuse(mode == "preload")
    cpu0 = tree_cpu_seconds(target["pid"])
    m0 = machine_busy()
    t_start = time.monotonic()
    inj_error = None
    try:
        inj = asyncio.run(inject(target["host"], target["port"], args.messages,
                                 args.inject_concurrency, args.size, tag, target.get("auth"),
                                 args.inject_timeout))
    except (RuntimeError, asyncio.TimeoutError, OSError) as e:
        inj = {"accepted": 0, "failed": args.messages, "errors": [str(e)[:300]],
               "seconds": time.monotonic() - t_start}
        inj_error = str(e)[:300]
    t_inj = time.monotonic()
    t0 = t_start
    flush_error = None
    if mode == "preload":
        settle(sink, target, args.settle_timeout)
        cpu0 = tree_cpu_seconds(target["pid"])
        m0 = machine_busy()
        t0 = time.monotonic()
        sink.refuse(False)
        try:
            target["flush"]()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            flush_error = str(e)[:300]
    deadline = time.monotonic() + args.delivery_timeout
    want = inj["accepted"]
    while sink.count() < want and time.monotonic() < deadline:
        time.sleep(0.01)
    t_end = time.monotonic()
    cpu1 = tree_cpu_seconds(target["pid"])
    m1 = machine_busy()
    st = sink.stats()
    delivered = st["messages"]
    complete = delivered >= args.messages
    last = st["last"] if st["last"] else t_end
    span = max(1e-9, last - t0)
    mt, mi = m1[0] - m0[0], m1[1] - m0[1]
    res = {
        "target": name, "mode": mode, "run": run, "messages": args.messages, "size": args.size,
        "inject_concurrency": args.inject_concurrency, "delivery_concurrency": args.concurrency,
        "accepted": inj["accepted"], "inject_failed": inj["failed"],
        "inject_errors": inj["errors"], "inject_s": round(inj["seconds"], 3),
        "inject_msgs_per_s": round(inj["accepted"] / max(1e-9, inj["seconds"]), 1),
        "delivered": delivered, "complete": complete,
        "delivered_s": round(span, 3) if delivered else None,
        "delivered_msgs_per_s": round(delivered / span, 1) if delivered else 0.0,
        "drain_after_inject_s": round(max(0.0, last - t_inj), 3) if delivered else None,
        "first_delivery_s": round(st["first"] - t0, 3) if st["first"] else None,
        "sink_connections": st["connections"], "sink_max_parallel": st["max_parallel"],
        "sink_refused": st["refused"],
        "msgs_per_connection": round(delivered / st["connections"], 1) if st["connections"] else None,
        "duplicates": st["duplicates"], "stray": st["stray"],
        "server_cpu_s": round(cpu1 - cpu0, 3),
        "server_cpu_ms_per_msg": round(1000 * (cpu1 - cpu0) / delivered, 3) if delivered else None,
        "machine_cpu_busy_pct": round(100.0 * (mt - mi) / mt, 1) if mt else None,
    }
    if inj_error:
        res["error"] = inj_error
    if flush_error:
        res["flush_error"] = flush_error
    if not complete:
        res["timed_out_after_s"] = round(t_end - t0, 1)
    return res


# ---------------------------------------------------------------- main

def summarize(results, targets, modes):
    """A markdown table of medians per mode and target, with the ratio of
    each target to the first (the baseline)."""
    keys = [("delivered_msgs_per_s", "higher"), ("delivered_s", "lower"),
            ("first_delivery_s", "lower"), ("inject_msgs_per_s", "higher"),
            ("drain_after_inject_s", "lower"), ("server_cpu_ms_per_msg", "lower"),
            ("sink_max_parallel", "info"), ("msgs_per_connection", "info"),
            ("delivered", "info"), ("duplicates", "info")]
    base = targets[0]
    cols = targets + [f"{t}/{base}" for t in targets[1:]]
    lines = ["| mode | metric | better | " + " | ".join(cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for mode in modes:
        med = {}
        for t in targets:
            med[t] = {}
            for k, _ in keys:
                vals = [r[k] for r in results
                        if r["target"] == t and r["mode"] == mode and r.get(k) is not None]
                med[t][k] = statistics.median(vals) if vals else None
        for k, better in keys:
            row = [mode, k, better]
            for t in targets:
                v = med[t][k]
                row.append("-" if v is None else f"{v:g}")
            for t in targets[1:]:
                a, b = med[t][k], med[base][k]
                row.append(f"{a / b:.2f}" if a is not None and b else "-")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--messages", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=1, help="interleaved runs per target (medians)")
    ap.add_argument("--targets", default="postfix,postane",
                    help="comma list of postfix, postane; the first is the baseline")
    ap.add_argument("--modes", default="stream,preload",
                    help="stream (timed from the first injection), preload (all queued"
                         " first, timed from the release)")
    ap.add_argument("--concurrency", type=int, default=32, help="parallel deliveries")
    ap.add_argument("--inject-concurrency", type=int, default=32, help="SMTP sessions feeding")
    ap.add_argument("--size", type=int, default=2048, help="message size in bytes (about)")
    ap.add_argument("--inject-timeout", type=float, default=300.0)
    ap.add_argument("--delivery-timeout", type=float, default=180.0,
                    help="seconds after injection ends to wait for the sink to have all")
    ap.add_argument("--postane", default=os.environ.get("POSTANE") or str(REPO / "build" / "postane"))
    ap.add_argument("--workdir", help="where the servers' files go (default: a new temp dir)")
    ap.add_argument("--json", help="append one JSON line per phase to this file")
    ap.add_argument("--md", help="write the table of medians (markdown) to this file")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between phases")
    ap.add_argument("--settle-timeout", type=float, default=60.0,
                    help="preload: most seconds to wait for the queue to settle before the release")
    args = ap.parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in ("postfix", "postane"):
            ap.error(f"unknown target {t}")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("stream", "preload"):
            ap.error(f"unknown mode {m}")
    if args.messages < 1 or args.runs < 1:
        ap.error("--messages and --runs must be >= 1")
    if os.geteuid() != 0 and "postfix" in targets:
        ap.error("run as root (Postfix)")

    # SIGTERM (run.sh's trap) -> the finally below stops what we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="outbound-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sink_port = free_port(SINK_ADDRESS, RELAY_ADDRESS)
    dns_port = free_port("127.0.0.1")
    sink = Sink(SINK_ADDRESS, sink_port)
    dns = []
    servers = {}
    results = []
    try:
        sink.start()
        log(f"sink on {SINK_ADDRESS}:{sink_port} (pid {sink.proc.pid}); work dir {work}")
        if "postfix" in targets:
            relay = PostfixPeer(work, address=RELAY_ADDRESS, domains=[],
                                relayhost=f"[{SINK_ADDRESS}]:{sink_port}", hostname="relay.bench.test",
                                lifetime=max(3600, int(args.runs * 2 * (args.inject_timeout
                                                                        + args.delivery_timeout))),
                                main_cf={
                                    # As shipped, except the concurrency asked for.
                                    "in_flow_delay": "1s",
                                    "smtpd_error_sleep_time": "1s",
                                    "default_destination_concurrency_limit": args.concurrency,
                                    "smtp_destination_concurrency_limit": args.concurrency,
                                    "relay_destination_concurrency_limit": args.concurrency,
                                })
            relay.start()
            servers["postfix"] = {"obj": relay, "pid": relay.pid, "host": RELAY_ADDRESS,
                                  "port": relay.port, "flush": relay.flush,
                                  "settled": lambda: not relay.queue_files(("incoming", "active"))}
            log(f"postfix relay on {RELAY_ADDRESS}:{relay.port} (master pid {relay.pid}),"
                f" log {relay.log_path}")
        if "postane" in targets:
            if not os.access(args.postane, os.X_OK):
                raise RuntimeError(f"postane binary not found: {args.postane}")
            dns = start_dns(dns_port, SINK_ADDRESS)
            p = Postane(args.postane, work, sink_port, dns_port, args.concurrency).start()
            servers["postane"] = {"obj": p, "pid": p.pid, "host": "127.0.0.1",
                                  "port": p.submission_port, "auth": (USER, PASSWORD),
                                  "flush": p.flush}
            log(f"postane on submission 127.0.0.1:{p.submission_port} (pid {p.pid}),"
                f" DNS 127.0.0.1:{dns_port}, log {p.log_path}")

        phases = [(run, mode, t) for run in range(1, args.runs + 1) for mode in modes
                  for t in targets]
        for run, mode, t in phases:
            if results:
                time.sleep(args.pause)
            log(f"run {run} {mode}: {t}: {args.messages} messages, {args.inject_concurrency}"
                f" sessions in, {args.concurrency} deliveries out")
            r = run_phase(t, servers[t], sink, args, run, mode)
            if t == "postane" and not r["complete"]:
                r["queue"] = servers[t]["obj"].queue_summary()
                r["log_tail"] = servers[t]["obj"].log()[-1500:]
            if t == "postfix" and not r["complete"]:
                r["log_tail"] = servers[t]["obj"].log()[-1500:]
            results.append(r)
            brief = {k: r[k] for k in ("delivered", "delivered_msgs_per_s", "delivered_s",
                                       "inject_msgs_per_s", "sink_max_parallel",
                                       "server_cpu_ms_per_msg", "duplicates")}
            log(f"  {json.dumps(brief)}")
            if not r["complete"]:
                log(f"  incomplete: {r['delivered']}/{args.messages} at the sink,"
                    f" {r['accepted']} accepted; {r.get('error') or ''}"
                    f" {r['inject_errors'] or ''} {r.get('flush_error') or ''}"
                    f" {r.get('queue') or ''}")
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
    finally:
        for t, s in servers.items():
            try:
                s["obj"].stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {t}: {e}")
        for d in dns:
            d.stop()
        sink.stop()
    table = summarize(results, targets, modes)
    print(table)
    if args.md:
        Path(args.md).write_text(table + "\n")
    return 0 if results and all(r["complete"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
