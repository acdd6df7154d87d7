"""`postane check [--repair]`: the store's integrity check, against a real
data directory, with the server stopped and while it runs."""

import time

from smtpwire import queue_id


def send(srv, rcpts, body=b"Subject: c\r\n\r\ncheck me\r\n"):
    w = srv.wire()
    r = w.transaction("sender@remote.test", rcpts, body + b".\r\n")
    assert r.code == 250, r
    w.quit()
    return queue_id(r)


def check(srv, *args):
    r = srv.cli("check", *args)
    lines = r.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("check: "), (r.stdout, r.stderr)
    return r.returncode, lines[:-1], lines[-1], r.stderr


def test_clean_store_while_running_and_stopped(srv):
    send(srv, ["alice@example.test", "bob@example.test"])
    srv.wait_spool_empty()
    rc, problems, summary, _ = check(srv)
    assert rc == 0 and problems == [], problems
    assert "(server running)" in summary and "no problems" in summary
    assert "2 message(s)" in summary
    srv.stop()
    rc, problems, summary, _ = check(srv)
    assert rc == 0 and problems == [] and "(server running)" not in summary


def test_repair_refused_while_running(srv):
    r = srv.cli("check", "--repair")
    assert r.returncode == 1
    assert "server is running" in r.stderr and "--repair" in r.stderr


def test_damage_reported_then_repaired(srv):
    send(srv, ["alice@example.test"])
    send(srv, ["bob@example.test"])
    srv.wait_spool_empty()
    srv.stop()
    # bob's file is gone, alice has a file nobody indexed, a truncated one,
    # the queue holds a file without an entry, the spool a leftover.
    [bob_msg] = srv.message_paths("bob")
    bob_msg.unlink()
    content = b"Subject: stray\r\n\r\nstray\r\n"
    stray = srv.maildir("alice") / "new" / f"1700000000.M1P1Q1.x,S={len(content)}"
    stray.write_bytes(content)
    short = srv.maildir("alice") / "new" / "1700000000.M2P1Q2.x,S=999"
    short.write_bytes(b"cut off")
    (srv.queue_dir / "1700000000.M3P1Q3.x,S=1").write_bytes(b"q")
    (srv.spool_tmp / "1700000000.M4P1Q4.x").write_bytes(b"half")

    rc, problems, summary, _ = check(srv)
    assert rc == 1
    assert len(problems) == 5, problems
    assert all(p.startswith("problem: ") for p in problems)
    text = "\n".join(problems)
    assert "mailbox INBOX of bob@example.test: UID 1: file" in text
    assert f"{stray.name} has no index row" in text
    assert f"{short.name} has no index row and the wrong size" in text
    assert "queue/1700000000.M3P1Q3.x,S=1 has no entry" in text
    assert "spool/tmp/1700000000.M4P1Q4.x is an unfinished message" in text
    assert summary.endswith("5 problem(s)")

    rc, problems, summary, _ = check(srv, "--repair")
    assert rc == 0, problems
    assert all(p.startswith("repaired: ") for p in problems), problems
    assert summary.endswith("5 problem(s), 5 repaired, 0 left")
    rc, problems, summary, _ = check(srv)
    assert rc == 0 and problems == [] and summary.endswith("no problems")
    assert (srv.data / "spool" / "quarantine" / short.name).exists()
    assert [fn for fn, _ in srv.db_messages("alice")][-1] == stray.name

    # The server starts on the repaired store; bob's dropped UID is not reused.
    srv.start()
    send(srv, ["bob@example.test"])
    assert [uid for _, uid in srv.db_messages("bob")] == [2]


def test_mail_in_flight_is_not_damage(srv):
    """While the server delivers, files and rows appear and vanish between
    two reads; a live check looks twice and reports nothing."""
    import threading
    stop = threading.Event()

    def load():
        while not stop.is_set():
            send(srv, ["alice@example.test", "bob@example.test"])

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        for _ in range(3):
            rc, problems, summary, _ = check(srv)
            assert rc == 0 and problems == [], problems
    finally:
        stop.set()
        for t in threads:
            t.join(30)
