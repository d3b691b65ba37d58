"""An object that outlives a quiet spell: made, then a sleep during which
the thread makes (almost) nothing, then freed. Its lifetime must include
the sleep even where object events take a cached time (reftracer.c,
objclock.c): the clock ticker, or the line events, must have moved it on."""

import sys
import time


class Marker:
    pass


def main(seconds):
    m = Marker()
    time.sleep(seconds)
    del m


main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.08)
