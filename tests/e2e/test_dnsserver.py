"""The test DNS server (dnsserver.py) itself, queried with dnslib's own
client over UDP and TCP: records, NXDOMAIN and NODATA, CNAME chains, null
MX, failure modes, runtime updates, truncation, and stopping."""

import socket

import pytest
from dnslib import QTYPE, RCODE, DNSRecord, EDNS0

from dnsserver import DNSServer

ZONE = {
    "example.org": [("MX", 10, "mx1.example.org"), ("MX", 20, "mx2.example.org")],
    "mx1.example.org": [("A", "127.0.0.2"), ("AAAA", "::1")],
    "nullmx.test": [("MX", 0, ".")],
    "txt.test": [("TXT", "v=spf1 mx -all"), ("TXT", ["part one ", "part two"])],
    "alias.test": [("CNAME", "mid.test")],
    "mid.test": [("CNAME", "real.test")],
    "real.test": [("A", "192.0.2.7")],
    "dangling.test": [("CNAME", "nowhere.test")],
    "loop1.test": [("CNAME", "loop2.test")],
    "loop2.test": [("CNAME", "loop1.test")],
    "big.test": [("TXT", "k=rsa; p=" + "A" * 700)],
    "_25._tcp.mx1.example.org": [("TLSA", "3 1 1 AABBCCDD")],
    "broken.test": "SERVFAIL",
    "refused.test": "REFUSED",
    "slow.test": "TIMEOUT",
}


@pytest.fixture
def dns():
    server = DNSServer(ZONE)
    yield server
    server.stop()


def ask(dns, name, qtype, tcp=False, timeout=2.0, edns=None):
    q = DNSRecord.question(name, qtype)
    if edns is not None:
        q.add_ar(EDNS0(udp_len=edns))
    raw = q.send("127.0.0.1", dns.port, tcp=tcp, timeout=timeout)
    reply = DNSRecord.parse(raw)
    assert reply.header.id == q.header.id
    assert reply.header.qr == 1
    return reply


def rdata(reply, qtype):
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype)]


def test_mx_and_addresses(dns):
    r = ask(dns, "example.org", "MX")
    assert r.header.rcode == RCODE.NOERROR
    assert [(rr.rdata.preference, str(rr.rdata.label)) for rr in r.rr] == [
        (10, "mx1.example.org."), (20, "mx2.example.org.")]
    assert rdata(ask(dns, "mx1.example.org", "A"), "A") == ["127.0.0.2"]
    assert rdata(ask(dns, "mx1.example.org", "AAAA"), "AAAA") == ["::1"]
    # Names compare without case and final dot.
    assert rdata(ask(dns, "MX1.Example.ORG.", "A"), "A") == ["127.0.0.2"]
    assert rdata(ask(dns, "_25._tcp.mx1.example.org", "TLSA"), "TLSA") == ["3 1 1 AABBCCDD"]


def test_nxdomain_and_nodata(dns):
    r = ask(dns, "unknown.test", "MX")
    assert r.header.rcode == RCODE.NXDOMAIN and not r.rr
    r = ask(dns, "mx1.example.org", "MX")
    assert r.header.rcode == RCODE.NOERROR and not r.rr
    # mx2 is only named by an MX record, so it does not exist.
    assert ask(dns, "mx2.example.org", "A").header.rcode == RCODE.NXDOMAIN


def test_null_mx(dns):
    r = ask(dns, "nullmx.test", "MX")
    assert len(r.rr) == 1
    assert r.rr[0].rdata.preference == 0
    assert r.rr[0].rdata.label.label == ()  # the root
    assert r.pack().endswith(b"\x00\x03\x00\x00\x00")  # rdlength 3: pref 0, root


def test_txt(dns):
    r = ask(dns, "txt.test", "TXT")
    texts = [b"".join(rr.rdata.data) for rr in r.rr]
    assert texts == [b"v=spf1 mx -all", b"part one part two"]


def test_cname_chain(dns):
    r = ask(dns, "alias.test", "A")
    assert r.header.rcode == RCODE.NOERROR
    assert [(str(rr.rname), QTYPE.get(rr.rtype)) for rr in r.rr] == [
        ("alias.test.", "CNAME"), ("mid.test.", "CNAME"), ("real.test.", "A")]
    assert rdata(r, "A") == ["192.0.2.7"]
    # The CNAME itself when asked for.
    assert rdata(ask(dns, "alias.test", "CNAME"), "CNAME") == ["mid.test."]
    # The rcode is the last name's (RFC 6604).
    r = ask(dns, "dangling.test", "A")
    assert r.header.rcode == RCODE.NXDOMAIN
    assert rdata(r, "CNAME") == ["nowhere.test."]
    assert ask(dns, "loop1.test", "A").header.rcode == RCODE.SERVFAIL


def test_failures(dns):
    assert ask(dns, "broken.test", "MX").header.rcode == RCODE.SERVFAIL
    assert ask(dns, "refused.test", "A").header.rcode == RCODE.REFUSED
    with pytest.raises(socket.timeout):
        ask(dns, "slow.test", "MX", timeout=0.5)
    with pytest.raises(socket.timeout):
        ask(dns, "slow.test", "MX", tcp=True, timeout=0.5)
    assert ("slow.test", "MX") in dns.queries


def test_tcp_same_port(dns):
    r = ask(dns, "example.org", "MX", tcp=True)
    assert len(r.rr) == 2
    assert rdata(ask(dns, "unknown.test", "A", tcp=True), "A") == []


def test_truncation(dns):
    # Over 512 octets: empty and TC over UDP, whole over TCP or with EDNS.
    r = ask(dns, "big.test", "TXT")
    assert r.header.tc == 1 and not r.rr
    r = ask(dns, "big.test", "TXT", tcp=True)
    assert r.header.tc == 0
    assert b"".join(r.rr[0].rdata.data) == b"k=rsa; p=" + b"A" * 700
    r = ask(dns, "big.test", "TXT", edns=1232)
    assert r.header.tc == 0 and len(r.rr) == 1


def test_update(dns):
    dns.update({"example.org": [("MX", 5, "mx9.example.org")], "new.test": [("A", "192.0.2.9")]})
    r = ask(dns, "example.org", "MX")
    assert [str(rr.rdata.label) for rr in r.rr] == ["mx9.example.org."]
    assert rdata(ask(dns, "new.test", "A"), "A") == ["192.0.2.9"]
    assert rdata(ask(dns, "mx1.example.org", "A"), "A") == ["127.0.0.2"]  # kept
    dns.update({"new.test": "SERVFAIL", "mx1.example.org": None})
    assert ask(dns, "new.test", "A").header.rcode == RCODE.SERVFAIL
    assert ask(dns, "mx1.example.org", "A").header.rcode == RCODE.NXDOMAIN
    dns.replace({"only.test": [("A", "192.0.2.1")]})
    assert ask(dns, "example.org", "MX").header.rcode == RCODE.NXDOMAIN
    with pytest.raises(ValueError):
        dns.update({"bad.test": "SOMETIMES"})
    with pytest.raises(ValueError):
        dns.update({"bad.test": [("MX", "mx.test")]})


def test_stop_and_two_servers():
    a = DNSServer({"a.test": [("A", "192.0.2.1")]})
    with DNSServer({"a.test": [("A", "192.0.2.2")]}) as b:
        assert a.port != b.port
        assert b.servers == f"127.0.0.1:{b.port}"
        assert rdata(ask(a, "a.test", "A"), "A") == ["192.0.2.1"]
        assert rdata(ask(b, "a.test", "A"), "A") == ["192.0.2.2"]
    a.stop()
    a.stop()  # idempotent
    with pytest.raises((socket.timeout, ConnectionError)):
        ask(a, "a.test", "A", timeout=0.5)
