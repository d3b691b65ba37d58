"""An output that names a device is never removed (tracetap runs as root in
containers and CI): when a recording cannot start or an export fails on a
device, tracetap cleans up only regular files it wrote. The device here is
a private copy of /dev/full (writes fail with ENOSPC)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="making a character device needs root")


@pytest.fixture
def full_device(tmp_path):
    path = tmp_path / "full"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except OSError as exc:            # a container without mknod rights
        pytest.skip(f"cannot make a device here: {exc}")
    return str(path)


def _tracetap(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tracetap", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_failed_start_leaves_the_device(tmp_path, full_device):
    script = tmp_path / "p.py"
    script.write_text("print('ran')\n")
    p = _tracetap("run", "-o", full_device, str(script), cwd=tmp_path)
    assert p.returncode != 0 and "ran" not in p.stdout
    assert stat.S_ISCHR(os.lstat(full_device).st_mode)


def test_failed_export_leaves_the_device(tmp_path, full_device):
    script = tmp_path / "p.py"
    script.write_text("def f():\n    return 1\nfor _ in range(2000):\n    f()\n")
    rec = str(tmp_path / "p.ttrace")
    assert _tracetap("run", "-o", rec, str(script), cwd=tmp_path).returncode == 0
    for fmt in ("perfetto", "chrome", "flamegraph"):
        p = _tracetap("export", rec, "--format", fmt, "-o", full_device,
                      cwd=tmp_path)
        assert p.returncode == 1, (fmt, p.stderr)
        assert stat.S_ISCHR(os.lstat(full_device).st_mode), fmt
