"""Drives covpkg: some branches both ways, some one way, some never."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from covpkg import classify, loop_sum  # noqa: E402
from covpkg import branches  # noqa: E402

for n in (-1, 0, 5):
    classify(n)
loop_sum([1, 2, 7, 3])
branches.countdown(3)
for v in (0, "s"):
    branches.matcher(v)
branches.guarded(lambda: int("x"))
branches.with_block(False)
branches.lambdas()
list(branches.generator(5))
branches.Shape(3).describe()
branches.Shape(5).describe()
branches.maybe_double(2, True)
