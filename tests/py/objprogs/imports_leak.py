"""Import noise apart: `import json` runs json's module bodies
(and the imports they make) inside the recording; importer/helper.py's body
calls a function that allocates. What the program itself leaves alive is
marked LEAK-*: three bytearrays and a path string here, and LATE below (a list and five
bytearrays made by the same helper line as the import-time STATE)."""
import json                                             # module state
import os
import sys

HERE = os.path.join(os.path.dirname(__file__), "importer")  # LEAK-P: 1 str
sys.path.insert(0, HERE)
import helper                                           # module state too

A = bytearray(8)                                        # LEAK-A: 1 bytearray
B = bytearray(8)                                        # LEAK-B: 1 bytearray
C = bytearray(8)                                        # LEAK-C: 1 bytearray
LATE = helper.make()            # 1 list + 5 bytearray at helper.py's make()
ENCODED = len(json.dumps({"k": [1, 2]}))                # an int < 256: cached
