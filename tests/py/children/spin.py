"""Spins in a function until killed."""
import sys


def spin():
    n = 0
    while True:
        n += 1
        if n == 1000:
            print("spinning", flush=True)


spin()
