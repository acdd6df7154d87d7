"""benchutil.py - what the Python tools under bench/ share: where the shared
bench tools are, and how one result is written.

A tool in bench/<name>/ puts <its own folder>/../lib on sys.path, imports this
module, calls use_shared_bench(), and then imports the shared tools it needs
(imap_load, procmem, compare, ...). Standard library only; no I/O on import.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def shared_bench_dir():
    """The shared bench tools: $SHARED_BENCH, else ../shared/bench beside the
    repository (bench/lib/../../../shared/bench), as an absolute path."""
    return os.path.abspath(os.environ.get("SHARED_BENCH") or os.path.join(HERE, "..", "..", "..", "shared", "bench"))


def use_shared_bench():
    """Put the shared bench tools first on sys.path, so that they import."""
    sys.path.insert(0, shared_bench_dir())


def emit_result(res, dest):
    """Write one result: dest '-' prints it as one JSON line; any other dest
    appends that line to the file dest and prints the result indented; no dest
    only prints it indented."""
    line = json.dumps(res)
    if dest == "-":
        print(line)
        return
    if dest:
        with open(dest, "a") as f:
            f.write(line + "\n")
    print(json.dumps(res, indent=1))
