"""Fixtures for the chaos (crash-consistency) tests: the end-to-end suite's
`postane` fixture and helpers, loaded from tests/e2e/conftest.py under
another module name, plus the number of SIGKILLs per test.

    CHAOS_KILLS=25 python3 -m pytest -s tests/chaos     # long form
    python3 -m pytest -s tests/chaos --chaos-kills 6     # CI's short form
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[1] / "e2e"
sys.path.insert(0, str(E2E))

_spec = importlib.util.spec_from_file_location("postane_e2e_conftest", E2E / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
sys.modules["postane_e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

postane = e2e.postane  # the fixture: an initialised instance, not started
DEFAULT_KILLS = 6


def pytest_configure(config):
    e2e.pytest_configure(config)


def pytest_addoption(parser):
    parser.addoption("--chaos-kills", type=int, default=None,
                     help=f"SIGKILLs per chaos test (default $CHAOS_KILLS or {DEFAULT_KILLS})")


@pytest.fixture
def kills(request):
    n = request.config.getoption("--chaos-kills")
    if n is None:
        n = int(os.environ.get("CHAOS_KILLS") or DEFAULT_KILLS)
    return n
