"""Builds the tests' counting reference ref tracer (_ttrefcount.c) for the
running interpreter with its own compiler and flags (sysconfig), cached
under <repo>/build/refcount/<cache tag>-<source hash>/. No setuptools:
one cc call, so it works in every test venv.

    from refcount.build import load
    ref = load()        # the _ttrefcount module, or pytest.skip on < 3.13
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SOURCE = HERE / "_ttrefcount.c"


def build() -> Path:
    """Returns the path of the built extension, compiling it if needed.
    Raises RuntimeError with the compiler's output on failure."""
    src = SOURCE.read_bytes()
    tag = f"{sys.implementation.cache_tag}-{hashlib.sha1(src).hexdigest()[:10]}"
    out_dir = ROOT / "build" / "refcount" / tag
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    out = out_dir / f"_ttrefcount{suffix}"
    if out.exists():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cflags = shlex.split(sysconfig.get_config_var("CFLAGS") or "")
    ccshared = shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC")
    include = sysconfig.get_paths()["include"]
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    cmd = [*cc, *cflags, *ccshared, "-shared", "-O1", "-Wall", "-Werror",
           f"-I{include}", str(SOURCE), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"building _ttrefcount failed: {' '.join(cmd)}\n"
                           f"{proc.stdout}{proc.stderr}")
    os.replace(tmp, out)
    return out


def load():
    """Imports the reference extension (building it first)."""
    if sys.version_info < (3, 13):
        import pytest
        pytest.skip("PyRefTracer needs CPython 3.13+")
    path = build()
    spec = importlib.util.spec_from_file_location("_ttrefcount", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


if __name__ == "__main__":
    print(build())
