"""Imported by imports_and_argv.py: module-level code and functions that
live outside the script, in a directory found through sys.path[0]."""

LOADED = []
for _name in ("alpha", "beta"):
    LOADED.append(_name.title())


def shout(text):
    return text.upper() + "!"


class Counter:
    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1
        return self.n
