"""The bench workloads (bench/workloads) run at every scale bench/run.py
uses: 0 is the baseline `--cachegrind` subtracts (start-up alone), and a
small scale stands in for the timed runs. A workload that fails there
leaves a hole in the bench table instead of a number."""

import glob
import os
import subprocess
import sys

import pytest
from conftest import capture_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = sorted(
    p for p in glob.glob(os.path.join(ROOT, "bench", "workloads", "*.py"))
    if not os.path.basename(p).startswith("_"))


def test_the_workloads_are_found():
    assert len(WORKLOADS) >= 8


@pytest.mark.parametrize("scale", ["0", "0.01"])
@pytest.mark.parametrize("workload", WORKLOADS, ids=os.path.basename)
def test_workload_runs_and_reports(workload, scale, tmp_path):
    timing = tmp_path / "timing"
    env = {**capture_env(), "TRACETAP_BENCH_TIMING": str(timing)}
    proc = subprocess.run([sys.executable, workload, scale],
                          cwd=os.path.dirname(workload), env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    elapsed, result = timing.read_text().split(" ", 1)
    assert float(elapsed) >= 0
    assert result.strip() not in ("", "None")


def test_the_lock_convoy_bench_measures_each_mode(tmp_path):
    """bench/lock_convoy.py at a tiny scale: a row per mode with its time,
    ratio and switch count, the workload's threads all finishing (its own
    assertion) under tracetap as untraced."""
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "lock_convoy.py"), "--rounds", "1",
         "--scale", "0.01", "--modes", "untraced,tracetap-count"],
        cwd=tmp_path, env=capture_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {ln.split()[0]: ln.split()[1:] for ln in proc.stdout.splitlines()[2:]}
    assert set(rows) == {"untraced", "tracetap-count"}, proc.stdout
    for name, cells in rows.items():
        assert len(cells) == 5 and float(cells[0]) > 0 and int(cells[3]) >= 0, (name, cells)
    assert float(rows["untraced"][2]) == 1.0
