"""Runs as `python SCRIPT` would: __name__, sys.argv, sys.path[0], and an
import through sys.path[0] (its module-level code is traced too). The exit
code is 0 only if every check holds; each failing check adds a bit.

scenario-args: alpha --beta=2
scenario-exit: 0
scenario-threads: 1
"""
import os
import sys


def checks():
    bits = 0
    if __name__ != "__main__":
        bits |= 1
    if sys.argv[1:] != ["alpha", "--beta=2"]:
        bits |= 2
    if os.path.abspath(__file__) != os.path.abspath(sys.argv[0]):
        bits |= 4
    if sys.path[0] != os.path.dirname(os.path.realpath(__file__)):
        bits |= 8
    if not os.path.isabs(__file__):
        bits |= 16
    return bits


def use_helpers():
    from _support import helpers
    c = helpers.Counter()
    c.bump()
    return helpers.shout("ok"), helpers.LOADED, c.bump()


status = checks()
print(use_helpers(), status)
sys.exit(status)
