"""Imported by imports_leak.py: the module body calls make(), so what make()
allocates then is module state; the same line run later is the program's."""


def make():
    return [bytearray(4) for _ in range(5)]             # MAKE


STATE = make()
