"""The covproject suite's fixtures (run by tests/py/test_pytest_plugin.py,
never by tests/py's own run: tests/py/conftest.py ignores covproject)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from covpkg import branches  # noqa: E402


@pytest.fixture
def shape():
    s = branches.Shape(4)          # setup runs package code...
    yield s
    branches.countdown(2)          # ...and so does teardown


@pytest.fixture(scope="module")
def squares():
    return branches.lambdas()
