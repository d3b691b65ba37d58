"""Run by family.py through subprocess: work(argv[1]) as JSON on stdout."""
import json
import sys

from family import work

print(json.dumps(work(int(sys.argv[1]))))
