"""A parent with two subprocess children: one finishes, one is killed with
SIGKILL while it runs (after it has flushed some events)."""
import os
import signal
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
ok = subprocess.run([sys.executable, os.path.join(here, "child.py"), "4"],
                    check=True, capture_output=True)
victim = subprocess.Popen([sys.executable, os.path.join(here, "spin.py")],
                          stdout=subprocess.PIPE)
victim.stdout.readline()          # it has started spinning
time.sleep(0.5)                   # several flush intervals
victim.send_signal(signal.SIGKILL)
victim.wait()
print(victim.pid, victim.returncode)
