"""The entry point every workload shares: `python WORKLOAD.py [SCALE]` runs
work(SCALE) once, timing only the work itself; bench/run.py reads the time
(and the result, a checksum) from the file named by TRACETAP_BENCH_TIMING."""
import os
import sys
import time


def main(work):
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    t0 = time.perf_counter()
    result = work(scale)
    elapsed = time.perf_counter() - t0
    if os.environ.get("TRACETAP_BENCH_TIMING"):
        with open(os.environ["TRACETAP_BENCH_TIMING"], "w") as f:
            f.write("%r %r\n" % (elapsed, result))
