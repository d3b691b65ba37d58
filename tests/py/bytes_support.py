"""Helpers for the --bytes tests (test_objbytes*.py): the environment the
program and its tracemalloc reference run in, a planted line found by the
tag that ends it, and the tolerance check against the reference."""

from __future__ import annotations

import os
import sys

import pytest

TIMEOUT = float(os.environ.get("TRACETAP_TEST_TIMEOUT", "300"))
needs_313 = pytest.mark.skipif(sys.version_info < (3, 13),
                               reason="--objects needs CPython 3.13+")


def env() -> dict[str, str]:
    """The test's environment, with a fixed hash seed and tracemalloc off
    unless the reference starts it."""
    e = dict(os.environ)
    e["PYTHONHASHSEED"] = "0"
    e.pop("PYTHONTRACEMALLOC", None)
    return e


def tagged_line(prog: str, tag: str) -> int:
    """The number of the line of prog that ends with the comment ``# tag``."""
    with open(prog) as f:
        for i, text in enumerate(f, 1):
            if text.rstrip().endswith("# " + tag):
                return i
    raise AssertionError(tag)


def close(ours: int, ref: int, tolerance: float, slack: int = 0) -> bool:
    """ours is within tolerance (relative) plus slack (bytes) of ref."""
    return abs(ours - ref) <= tolerance * ref + slack
