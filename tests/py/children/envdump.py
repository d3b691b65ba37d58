"""Prints its environment and sys.path as JSON; with an argument, also
those of a Python child it starts."""
import json
import os
import subprocess
import sys

me = {"env": dict(os.environ), "path": sys.path[1:]}
if len(sys.argv) > 1:
    out = subprocess.run([sys.executable, os.path.abspath(__file__)],
                         check=True, capture_output=True, text=True).stdout
    me["child"] = json.loads(out)
print(json.dumps(me))
