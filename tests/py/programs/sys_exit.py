"""sys.exit with a code, from deep inside functions, through finally blocks
and a context manager that must not swallow SystemExit.

scenario-exit: 3
scenario-threads: 1
"""
import sys


class Guard:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        print("guard saw", exc_type.__name__)
        return False


def cleanup(tag):
    print("cleanup", tag)


def leave(code):
    try:
        sys.exit(code)
    finally:
        cleanup("inner")


def run():
    with Guard():
        try:
            leave(3)
        except Exception:
            print("never: SystemExit is not an Exception")
        finally:
            cleanup("outer")


run()
print("never reached")
