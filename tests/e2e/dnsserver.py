"""A small DNS server for the end-to-end tests, built on python3-dnslib.

It answers like a recursive resolver that knows only the zone it was given,
so postane's resolver (c-ares) can be pointed at it:

    dns = DNSServer({
        "example.org": [("MX", 10, "mx1.example.org"), ("MX", 20, "mx2.example.org")],
        "mx1.example.org": [("A", "127.0.0.2"), ("AAAA", "::1")],
        "nullmx.test": [("MX", 0, ".")],
        "txt.test": [("TXT", "v=spf1 mx -all")],
        "alias.test": [("CNAME", "real.test")],
        "broken.test": "SERVFAIL",
        "slow.test": "TIMEOUT",
    })
    ... servers = f"127.0.0.1:{dns.port}" ...
    dns.update({"example.org": [("MX", 5, "mx9.example.org")]})
    dns.stop()

Zone values are a list of records or a failure mode:

* ("A", "192.0.2.1"), ("AAAA", "2001:db8::1"), ("MX", pref, "host" or "."),
  ("TXT", "text" or ["string", "string"]) (texts longer than 255 octets are
  split into character-strings), ("CNAME", "target"), ("PTR", "name"),
  ("NS", "name"), or any other type as zone-file rdata, e.g.
  ("TLSA", "3 1 1 AABB...") or ("SRV", "0 5 25 mx.example.org").
* "SERVFAIL" or "REFUSED": that rcode for every question about the name;
  "TIMEOUT": no answer at all.

Answers: the records of the asked type; a CNAME is followed inside the zone
(up to 8 links, the chain in the answer section, the rcode that of the last
name: RFC 6604); a name not in the zone is NXDOMAIN; a known name without
records of the type is NODATA (NOERROR, no answer). Names compare without
case and without the final dot. UDP answers larger than 512 octets (or the
EDNS payload size the query offered) come back empty with TC set, so the
client retries over TCP on the same port.

The server listens on 127.0.0.1 with one free port for UDP and TCP (`.port`).
Its threads are daemons: they end with stop() or with the test process.
`.queries` lists (name, type) of every question received, in order."""

import select
import socket
import struct
import threading

from dnslib import (AAAA, CNAME, DNSLabel, DNSRecord, MX, NS, PTR, QTYPE, RCODE, RR,
                    TXT, A)

FAILURES = ("SERVFAIL", "REFUSED", "TIMEOUT")
MAX_CNAME = 8
POLL = 0.2  # seconds between checks of the stop flag


def _norm(name):
    name = str(name).strip().lower()
    if name.endswith(".") and name != ".":
        name = name[:-1]
    return name


def _txt_strings(value):
    parts = [value] if isinstance(value, (str, bytes)) else list(value)
    out = []
    for p in parts:
        b = p.encode() if isinstance(p, str) else bytes(p)
        if not b:
            out.append(b"")
        for i in range(0, len(b), 255):
            out.append(b[i:i + 255])
    return out or [b""]


def _make_rr(name, rec, ttl):
    """One record tuple as a dnslib RR (checked when the zone is set)."""
    if not isinstance(rec, (tuple, list)) or not rec:
        raise ValueError(f"{name}: record {rec!r} is not a tuple")
    rtype = str(rec[0]).upper()
    args = rec[1:]
    if rtype == "A":
        rdata = A(args[0])
    elif rtype == "AAAA":
        rdata = AAAA(args[0])
    elif rtype == "MX":
        if len(args) != 2:
            raise ValueError(f"{name}: MX needs (\"MX\", preference, host)")
        rdata = MX(DNSLabel(args[1]), int(args[0]))
    elif rtype == "TXT":
        rdata = TXT(_txt_strings(args[0]))
    elif rtype == "CNAME":
        rdata = CNAME(args[0])
    elif rtype == "PTR":
        rdata = PTR(args[0])
    elif rtype == "NS":
        rdata = NS(args[0])
    else:
        text = " ".join(str(a) for a in args)
        return RR.fromZone(f"{name}. {ttl} IN {rtype} {text}")[0]
    return RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=ttl)


class DNSServer:
    """See the module documentation."""

    def __init__(self, zone=None, host="127.0.0.1", ttl=300):
        self.host = host
        self.ttl = ttl
        self.queries = []
        self._zone = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.update(zone or {})
        self._udp, self._tcp = self._bind(host)
        self.port = self._udp.getsockname()[1]
        self._threads = [
            threading.Thread(target=self._serve_udp, name=f"dns-udp-{self.port}", daemon=True),
            threading.Thread(target=self._serve_tcp, name=f"dns-tcp-{self.port}", daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- zone ---------------------------------------------------------------

    def update(self, zone):
        """Add or replace names (like dict.update); a value None removes the
        name. Records are checked here, so a bad zone fails in the test that
        gives it, not in the server thread."""
        parsed = {}
        for name, value in zone.items():
            key = _norm(name)
            if value is None:
                parsed[key] = None
            elif isinstance(value, str):
                if value.upper() not in FAILURES:
                    raise ValueError(f"{name}: unknown failure mode {value!r}")
                parsed[key] = value.upper()
            else:
                parsed[key] = [_make_rr(key, rec, self.ttl) for rec in value]
        with self._lock:
            for key, value in parsed.items():
                if value is None:
                    self._zone.pop(key, None)
                else:
                    self._zone[key] = value

    def replace(self, zone):
        """Forget every name, then serve `zone`."""
        with self._lock:
            self._zone = {}
        self.update(zone)

    # -- answers ------------------------------------------------------------

    def answer(self, request):
        """The reply to a parsed request, or None to stay silent."""
        reply = request.reply()
        if not request.questions:
            reply.header.rcode = RCODE.FORMERR
            return reply
        q = request.questions[0]
        qtype = q.qtype
        cur = _norm(q.qname)
        with self._lock:
            self.queries.append((cur, QTYPE.get(qtype)))
            for _ in range(MAX_CNAME + 1):
                entry = self._zone.get(cur)
                if entry is None:
                    reply.header.rcode = RCODE.NXDOMAIN
                    break
                if entry == "TIMEOUT":
                    return None
                if entry in FAILURES:
                    reply.header.rcode = getattr(RCODE, entry)
                    break
                matches = [rr for rr in entry if rr.rtype == qtype or qtype == QTYPE.ANY]
                if matches:
                    for rr in matches:
                        reply.add_answer(rr)
                    break
                alias = [rr for rr in entry if rr.rtype == QTYPE.CNAME]
                if not alias:
                    break  # NODATA
                reply.add_answer(alias[0])
                cur = _norm(alias[0].rdata.label)
            else:
                reply.header.rcode = RCODE.SERVFAIL  # a CNAME loop
        return reply

    def _reply_bytes(self, data, limit):
        try:
            request = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - garbage from the network is ignored
            return None
        reply = self.answer(request)
        if reply is None:
            return None
        packed = reply.pack()
        if limit is not None:
            size = 512
            for ar in request.ar:
                if ar.rtype == QTYPE.OPT:
                    size = max(512, min(int(ar.rclass), 4096))
            if len(packed) > size:
                reply.rr = []
                reply.auth = []
                reply.ar = []
                reply.header.tc = 1
                packed = reply.pack()
        return packed

    # -- sockets ------------------------------------------------------------

    @staticmethod
    def _bind(host):
        """A UDP and a TCP socket on the same free port."""
        for _ in range(100):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((host, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            return udp, tcp
        raise RuntimeError("no free port for both UDP and TCP")

    def _serve_udp(self):
        sock = self._udp
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], POLL)
                if not ready:
                    continue
                data, peer = sock.recvfrom(65535)
            except (OSError, ValueError):
                return  # closed by stop()
            out = self._reply_bytes(data, limit=True)
            if out is not None:
                try:
                    sock.sendto(out, peer)
                except OSError:
                    pass

    def _serve_tcp(self):
        sock = self._tcp
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], POLL)
                if not ready:
                    continue
                conn, _ = sock.accept()
            except (OSError, ValueError):
                return
            threading.Thread(target=self._serve_conn, args=(conn,), daemon=True).start()

    def _read_exact(self, conn, n):
        buf = b""
        while len(buf) < n and not self._stop.is_set():
            try:
                chunk = conn.recv(n - len(buf))
            except socket.timeout:
                continue
            if not chunk:
                return None
            buf += chunk
        return buf if len(buf) == n else None

    def _serve_conn(self, conn):
        conn.settimeout(POLL)
        try:
            idle = 0.0
            while not self._stop.is_set() and idle < 10.0:
                try:
                    head = conn.recv(2, socket.MSG_PEEK)
                except socket.timeout:
                    idle += POLL
                    continue
                if not head:
                    return
                head = self._read_exact(conn, 2)
                if head is None:
                    return
                data = self._read_exact(conn, struct.unpack("!H", head)[0])
                if data is None:
                    return
                idle = 0.0
                out = self._reply_bytes(data, limit=None)
                if out is not None:
                    conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            pass
        finally:
            conn.close()

    # -- life cycle ---------------------------------------------------------

    def stop(self):
        """Stop answering and close both sockets (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._udp.close()
        self._tcp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def servers(self):
        """The server as postane's DNS server setting: "127.0.0.1:PORT"."""
        return f"{self.host}:{self.port}"
