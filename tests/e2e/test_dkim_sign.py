"""DKIM signatures made by postane's signer, checked by independent verifiers.

The unit test binary build/tests/test_dkim_sign (tests/unit/test_dkim_sign.c)
writes, when DKIM_EXPORT_DIR is set, messages it signed with freshly
generated keys (ed25519-sha256 and rsa-sha256, c=relaxed/relaxed) and the DNS
records of those keys. Here they are verified by:

* dkimpy (python3-dkim, with python3-nacl for Ed25519), DNS answered by a
  dnsfunc from the exported records;
* OpenDKIM (opendkim-testmsg from opendkim-tools, libopendkim), which can
  only look keys up in the DNS: it runs in private network and mount
  namespaces (unshare) with a small DNS server (dnslib) on 127.0.0.1:53
  and a private /etc/resolv.conf bind-mounted over the real one, which is
  never touched. As a user, a user namespace (unshare -r) is used where
  the kernel allows it; skipped when no namespace can be made.

Each signature is verified on its own (the other removed), and tampered
copies must fail, so that a verifier that passes everything cannot make the
test pass.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT_BIN = os.environ.get("DKIM_TEST_BIN") or str(REPO / "build" / "tests" / "test_dkim_sign")
PYTHON = "/usr/bin/python3"


def split_signatures(raw):
    """(list of DKIM-Signature fields with their folds and CRLF, rest)."""
    sigs = []
    rest = raw
    while rest[:15].lower() == b"dkim-signature:":
        end = rest.index(b"\r\n") + 2
        while rest[end:end + 1] in (b" ", b"\t"):
            end = rest.index(b"\r\n", end) + 2
        sigs.append(rest[:end])
        rest = rest[end:]
    return sigs, rest


def sig_tags(field):
    value = field.split(b":", 1)[1]
    value = b"".join(value.split())
    tags = {}
    for part in value.split(b";"):
        if b"=" in part:
            k, v = part.split(b"=", 1)
            tags[k.decode()] = v.decode()
    return tags


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    if not os.access(UNIT_BIN, os.X_OK):
        r = subprocess.run(["make", "-C", str(REPO), "build/tests/test_dkim_sign"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        assert r.returncode == 0, r.stdout.decode(errors="replace")[-4000:]
    out = tmp_path_factory.mktemp("dkim-export")
    env = dict(os.environ, DKIM_EXPORT_DIR=str(out))
    r = subprocess.run([UNIT_BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    assert r.returncode == 0, (r.stdout.decode(errors="replace")
                               + r.stderr.decode(errors="replace"))
    records = {}
    for line in (out / "dns.txt").read_text().splitlines():
        name, value = line.split(" ", 1)
        records[name.lower().rstrip(".")] = value
    messages = {p.stem: p.read_bytes() for p in sorted(out.glob("*.eml"))}
    assert len(messages) >= 5
    assert len(records) == 2
    return out, records, messages


def single_signature_variants(messages):
    """(label, message with one signature, its a=) for every signature."""
    for name, raw in messages.items():
        sigs, rest = split_signatures(raw)
        assert len(sigs) == 2, name
        algs = [sig_tags(s)["a"] for s in sigs]
        assert algs == ["ed25519-sha256", "rsa-sha256"], (name, algs)
        for sig, alg in zip(sigs, algs):
            yield f"{name}/{alg}", sig + rest, alg


def tampered_variants(messages):
    """Copies that every verifier must reject: changed body, changed signed
    header, a From: added on top (oversigning)."""
    for label, msg, alg in single_signature_variants(messages):
        sigs, rest = split_signatures(msg)
        head, body = rest.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in rest else (rest, b"")
        yield label + "+body", sigs[0] + head + b"\r\n\r\n" + body + b"tampered\r\n"
        yield label + "+from", sigs[0] + b"From: mallory@example.net\r\n" + rest
        yield label + "+subject", sigs[0] + rest.replace(b"Subject: ", b"Subject: Re: ", 1)


# ----- dkimpy -----

def dkimpy_dnsfunc(records):
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        value = records.get(name.lower().rstrip("."))
        return value.encode() if value is not None else None
    return dnsfunc


def test_dkimpy_verifies_every_signature(exported):
    import dkim
    _, records, messages = exported
    dnsfunc = dkimpy_dnsfunc(records)
    for name, raw in messages.items():
        d = dkim.DKIM(raw)
        for idx in range(2):
            assert d.verify(idx=idx, dnsfunc=dnsfunc), (name, idx)
    for label, msg, alg in single_signature_variants(messages):
        assert dkim.verify(msg, dnsfunc=dnsfunc), label


def test_dkimpy_rejects_tampering(exported):
    import dkim
    _, records, messages = exported
    dnsfunc = dkimpy_dnsfunc(records)
    n = 0
    for label, msg in tampered_variants(messages):
        assert not dkim.verify(msg, dnsfunc=dnsfunc), label
        n += 1
    assert n >= 30


def test_signature_shape(exported):
    """What the signature fields say, and that they are folded at 78."""
    _, records, messages = exported
    for name, raw in messages.items():
        sigs, _ = split_signatures(raw)
        for sig in sigs:
            for line in sig.split(b"\r\n")[:-1]:
                assert len(line) <= 78, (name, line)
            tags = sig_tags(sig)
            assert tags["v"] == "1"
            assert tags["c"] == "relaxed/relaxed"
            assert tags["d"] == "example.org"
            assert f"{tags['s']}._domainkey.example.org" in records
            assert tags["h"].split(":")[0] == "from" and tags["h"].endswith(":from")
            assert int(tags["t"]) > 1700000000
    ed = records["postane-ed25519._domainkey.example.org"]
    assert ed.startswith("v=DKIM1; k=ed25519; p=")
    import base64
    assert len(base64.b64decode(ed.split("p=")[1])) == 32


# ----- OpenDKIM, in private namespaces -----

def _dns_server(records, stop):
    """Serve TXT records on 127.0.0.1:53 (UDP and TCP) until stop is set."""
    from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
    from dnslib.server import BaseResolver, DNSServer

    class Resolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            qname = str(request.q.qname).lower().rstrip(".")
            value = records.get(qname)
            if value is None:
                reply.header.rcode = RCODE.NXDOMAIN
            elif request.q.qtype == QTYPE.TXT:
                data = value.encode()
                chunks = [data[i:i + 255] for i in range(0, len(data), 255)]
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, ttl=60, rdata=TXT(chunks)))
            return reply

    servers = [DNSServer(Resolver(), address="127.0.0.1", port=53, tcp=tcp)
               for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    stop.wait()
    for s in servers:
        s.stop()


def namespace_main(workdir):
    """Runs inside `unshare --net --mount`: loopback up, our resolv.conf,
    the DNS server, then opendkim-testmsg on every message file."""
    workdir = Path(workdir)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    resolv = workdir / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
    records = json.loads((workdir / "records.json").read_text())
    stop = threading.Event()
    t = threading.Thread(target=_dns_server, args=(records, stop), daemon=True)
    t.start()
    import socket
    import time
    # Wait until the server answers.
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", 53), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    results = {}
    for p in sorted((workdir / "msgs").iterdir()):
        r = subprocess.run(["opendkim-testmsg"], stdin=p.open("rb"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        results[p.name] = [r.returncode, r.stdout.decode(errors="replace")]
    stop.set()
    print(json.dumps(results))


def run_opendkim(tmp_path, records, variants):
    """{label: (returncode, output)} for each (label, message)."""
    if shutil.which("opendkim-testmsg") is None:
        pytest.skip("opendkim-testmsg (opendkim-tools) is not installed")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare or ip not available for a private DNS")
    # As root, or as a user through a user namespace (-r) where allowed.
    unshare = None
    for cmd in (["unshare", "--net", "--mount"], ["unshare", "-r", "--net", "--mount"]):
        probe = subprocess.run(cmd + ["true"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if probe.returncode == 0:
            unshare = cmd
            break
    if unshare is None:
        pytest.skip("cannot create network/mount namespaces here: "
                    + probe.stdout.decode(errors="replace").strip())
    workdir = tmp_path / "opendkim"
    (workdir / "msgs").mkdir(parents=True)
    labels = {}
    for i, (label, msg) in enumerate(variants):
        fname = f"{i:03d}.eml"
        labels[fname] = label
        # opendkim-testmsg reads a message with LF line ends from a file.
        (workdir / "msgs" / fname).write_bytes(msg.replace(b"\r\n", b"\n"))
    (workdir / "records.json").write_text(json.dumps(records))
    r = subprocess.run(unshare + [PYTHON, __file__, "--opendkim-ns", str(workdir)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-4000:]
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    return {labels[f]: tuple(v) for f, v in out.items()}


def test_opendkim_verifies_and_rejects(exported, tmp_path):
    _, records, messages = exported
    good = [(label, msg) for label, msg, _ in single_signature_variants(messages)]
    bad = list(tampered_variants(messages))
    results = run_opendkim(tmp_path, records, good + bad)
    for label, _ in good:
        rc, out = results[label]
        assert rc == 0 and out.strip() == "", (label, rc, out)
    for label, _ in bad:
        rc, out = results[label]
        assert rc != 0, (label, rc, out)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--opendkim-ns":
    namespace_main(sys.argv[2])
