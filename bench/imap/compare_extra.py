#!/usr/bin/env python3
"""compare_extra.py - the shared compare.py, unchanged, with extra arguments
appended to every imap_load.py "load" command it runs (for all targets alike).

compare.py has no option to pass arguments through to imap_load.py. run.sh uses
this wrapper only to give --no-search to both servers while postane's SEARCH
answers NO (imap_load.py counts a NO as an error and abandons the session, so
the two servers would not run the same operations).

  IMAP_LOAD_EXTRA='--no-search' compare_extra.py ARGS...   (ARGS as for compare.py)

SHARED_BENCH (default ../../../shared/bench) says where compare.py is.
"""
import os
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import benchutil  # noqa: E402
benchutil.use_shared_bench()
import compare  # noqa: E402

EXTRA = shlex.split(os.environ.get("IMAP_LOAD_EXTRA", ""))
_scenario_cmd = compare.scenario_cmd


def scenario_cmd(scen, t, a):
    spec = _scenario_cmd(scen, t, a)
    if spec is not None and scen["kind"] == "imap" and EXTRA:
        cmd, timeout = spec
        return cmd + EXTRA, timeout
    return spec


compare.scenario_cmd = scenario_cmd

if __name__ == "__main__":
    sys.exit(compare.main())
