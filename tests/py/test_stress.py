"""32 busy threads while recordings start and stop over and over: no crash,
no hook left behind in any thread, and every event the hooks appended is in
the file or counted as dropped.

The work runs in a child process so that a crash is a failed test, not a
dead test run."""

import json

import pytest
from conftest import capture_python, capture_write

STRESS = r"""
import json, os, random, sys, threading, time
import tracetap

N_THREADS = 32
CYCLES = int(sys.argv[2])
OUT = sys.argv[1]
stop = threading.Event()
left = {}                      # thread name -> (sys.gettrace(), threading.gettrace())
errors = []


def leaf(i):
    return i + 1


def gen(n):
    for i in range(n):
        yield leaf(i)


def raiser(i):
    if i % 7 == 0:
        raise ValueError(i)
    return i


def work():
    n = 0
    try:
        while not stop.is_set():
            for x in gen(5):
                n += x
            try:
                raiser(n)
            except ValueError:
                pass
            if n % 64 == 0:
                time.sleep(0)
    except BaseException as exc:           # reported by the parent check
        errors.append(repr(exc))
    left[threading.current_thread().name] = (sys.gettrace(), threading.gettrace())


def short_lived():
    for x in gen(3):
        leaf(x)


workers = [threading.Thread(target=work, name="w%d" % i) for i in range(N_THREADS)]
for t in workers:
    t.start()

variants = [{}, {"lines": False}, {"threads": "main"}, {}, {"opcodes": True}]
report = []
rnd = random.Random(1234)
for cycle in range(CYCLES):
    path = os.path.join(OUT, "s%03d.ttrace" % cycle)
    opts = variants[cycle % len(variants)]
    rec = tracetap.record(path, **opts).start()
    churn = [threading.Thread(target=short_lived) for _ in range(3)]
    for t in churn:
        t.start()
    time.sleep(rnd.uniform(0.005, 0.04))
    if cycle % 3 == 1:
        # Stop from a worker-like thread instead of the main one.
        box = {}
        stopper = threading.Thread(target=lambda: box.setdefault("s", rec.stop()))
        stopper.start()
        stopper.join()
        summary = box["s"]
    else:
        summary = rec.stop()
    for t in churn:
        t.join()
    after = (sys.gettrace(), threading.gettrace())
    report.append({"path": path, "opts": opts, "summary": summary,
                   "main_after": [repr(x) for x in after]})

stop.set()
for t in workers:
    t.join()
print(json.dumps({"report": report, "errors": errors,
                  "left": {k: [repr(x) for x in v] for k, v in left.items()}}))
"""


@pytest.mark.parametrize("cycles", [40])
def test_start_stop_under_32_busy_threads(tmp_path, cycles):
    script = capture_write(tmp_path, "stress.py", STRESS)
    proc = capture_python(script, str(tmp_path), str(cycles), cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout.splitlines()[-1])
    assert data["errors"] == []

    # No hook anywhere afterwards: main thread after every stop, and each of
    # the 32 workers as it finished.
    assert len(data["left"]) == 32
    assert all(v == ["None", "None"] for v in data["left"].values()), data["left"]
    for cycle in data["report"]:
        assert cycle["main_after"] == ["None", "None"], cycle

    import tracetap

    traced_threads = []
    for cycle in data["report"]:
        s = cycle["summary"]
        assert s["warnings"] == [], (cycle["opts"], s["warnings"])
        assert s["error"] is None
        trace = tracetap.load(cycle["path"])
        info = trace.info()
        assert info["damage"]["status"] == 0 and info["damage"]["clean_end"]
        # Every appended event is in the file, or counted as dropped.
        assert info["events"] == s["events"], cycle["opts"]
        assert info["dropped"] == s["dropped"]
        listed = sum(1 for e in trace.events() if e.kind != "dropped")
        assert listed == sum(s["events"].values())
        if cycle["opts"].get("threads") == "main":
            assert len(info["threads"]) <= 1
        else:
            traced_threads.append(len(info["threads"]))
        if cycle["opts"].get("lines") is False:
            assert s["events"]["line"] == 0
    # The busy workers were already running at every start: traced anyway.
    assert max(traced_threads) >= 16, traced_threads
    assert sum(traced_threads) / len(traced_threads) > 8
