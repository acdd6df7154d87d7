"""Dovecot's imaptest scripts against postane, through our own interpreter.

tests/imaptest/runner.py runs the imaptest scripted tests (the imaptest
program itself is not packaged); tests/imaptest/run.sh starts a throw-away
server and runs them. This file

* checks the interpreter itself against tests/imaptest/fakeserver.py: the
  correct scripted server passes, harmless variations (letter case, item
  order, extra untagged replies) pass, and every deliberately wrong answer
  fails - so a PASS from the interpreter means something;
* runs the real scripts against postane and fails when fewer than BASELINE
  of them pass (a regression).

Raising the baseline: after a server fix, run `tests/imaptest/run.sh`, read
its last line "imaptest: N passed, M failed, K skipped", and set BASELINE to
N. Never lower it to make CI green: find out which script started failing
(`tests/imaptest/run.sh --only NAME -v` shows the exchange).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAPTEST_DIR = REPO / "tests" / "imaptest"
RUNNER = IMAPTEST_DIR / "runner.py"
RUN_SH = IMAPTEST_DIR / "run.sh"
SCRIPTS = Path(os.environ.get("IMAPTEST_TESTS", "/work/shared/conformance/imaptest-tests"))
POSTANE_BIN = os.environ.get("POSTANE_BIN") or str(REPO / "build" / "postane")
if not os.path.isabs(POSTANE_BIN):
    POSTANE_BIN = str(REPO / POSTANE_BIN)
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# Scripts of imaptest-tests/ (71) that pass against postane; see the module
# docstring for how to raise it.
BASELINE = 59

SUMMARY = re.compile(r"^imaptest: (\d+) passed, (\d+) failed, (\d+) skipped$", re.M)

sys.path.insert(0, str(IMAPTEST_DIR))
import fakeserver  # noqa: E402


# ----- the interpreter against a scripted fake server -----

# mutation -> the self-test script that must FAIL with it
WRONG = {
    "flags_extra": "selected",  # FETCH FLAGS has a flag too many
    "flags_missing": "selected",  # ... one too few
    "uid_changed": "selected",  # a UID differs from the one bound earlier
    "body_differs": "selected",  # one letter of a literal differs
    "status_count": "selected",  # STATUS MESSAGES 3 instead of 2
    "copy_wrong_code": "selected",  # NO [ALREADYEXISTS] instead of [TRYCREATE]
    "copy_ok": "selected",  # OK where NO is expected
    "noop_expunge": "selected",  # a forbidden ("!") untagged reply
    "noop_exists_drop": "selected",  # EXISTS shrinks without EXPUNGE
    "expunge_wrong_seq": "selected",  # EXPUNGE of the wrong sequence
    "keyword_not_announced": "selected",  # keyword in FETCH FLAGS, not in FLAGS
    "status_bad": "selected",  # BAD to a valid command
    "fetch_nothing": "selected",  # expected untagged replies missing
    "fetch_no_tagged": "selected",  # no tagged reply at all (timeout)
    "fetch_tagged_no": "selected",  # NO where OK is expected
    "examine_exists": "auth",  # EXISTS differs from the STATUS bound before
    "examine_readwrite": "auth",  # [READ-WRITE] where [READ-ONLY] is expected
}
HARMLESS = [None, "case_and_order", "extra_untagged", "no_literal_plus"]


@pytest.fixture(scope="module")
def selftest_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("imaptest-selftest")
    for name, text in fakeserver.SELFTEST_SCRIPTS.items():
        (d / name).write_text(text)
    (d / "default.mbox").write_text(fakeserver.SELFTEST_MBOX)
    return d


def run_selftest(mutation, tests_dir):
    srv = fakeserver.FakeServer(mutation).start()
    try:
        r = subprocess.run([PYTHON, str(RUNNER), "--host", "127.0.0.1", "--port", str(srv.port),
                            "--user", "tester", "--password", "secret", "--tests", str(tests_dir),
                            "--timeout", "3"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    finally:
        srv.stop()
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out + r.stderr.decode("utf-8", "replace")
    results = {}
    for line in out.splitlines():
        m = re.match(r"(PASS|FAIL|SKIP) ([^:\s]+)", line)
        if m:
            results[m.group(2)] = m.group(1)
    return results, out


@pytest.mark.parametrize("mutation", HARMLESS)
def test_runner_passes_a_correct_server(selftest_dir, mutation):
    results, out = run_selftest(mutation, selftest_dir)
    assert results == {name: "PASS" for name in fakeserver.SELFTEST_SCRIPTS}, out


@pytest.mark.parametrize("mutation", sorted(WRONG))
def test_runner_fails_a_wrong_server(selftest_dir, mutation):
    results, out = run_selftest(mutation, selftest_dir)
    expected = {name: "PASS" for name in fakeserver.SELFTEST_SCRIPTS}
    expected[WRONG[mutation]] = "FAIL"
    assert results == expected, out


# ----- the real scripts against postane -----

@pytest.fixture(scope="module")
def imaptest_run():
    """One run of tests/imaptest/run.sh: (stdout, stderr)."""
    if not SCRIPTS.is_dir():
        pytest.skip("no imaptest scripts at %s" % SCRIPTS)
    assert os.access(POSTANE_BIN, os.X_OK), "%s not built" % POSTANE_BIN
    env = dict(os.environ, POSTANE_BIN=POSTANE_BIN)
    env.pop("POSTANE_CONFIG", None)
    r = subprocess.run([str(RUN_SH), str(SCRIPTS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=1200, env=env)
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, "run.sh failed (%d):\n%s\n%s" % (r.returncode, out, err)
    return out, err


def test_imaptest_conformance(imaptest_run):
    out, err = imaptest_run
    m = SUMMARY.search(out)
    assert m, out + err
    passed = int(m.group(1))
    failing = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert passed >= BASELINE, (
        "imaptest regression: %d scripts pass, baseline %d\n%s"
        % (passed, BASELINE, "\n".join(failing)))


def test_imaptest_server_log_clean(imaptest_run):
    """Like every e2e test: no sanitizer report from the server (matters
    for the ASan build, POSTANE_BIN=build/asan/postane)."""
    out, err = imaptest_run
    assert "SANITIZER REPORT" not in err, err
