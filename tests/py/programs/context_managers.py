"""Context managers: class based and generator based, swallowing or not.

scenario-exit: 0
scenario-threads: 1
"""
import contextlib

events = []


class Swallow:
    def __init__(self, *types):
        self.types = types

    def __enter__(self):
        events.append("enter")
        return self

    def __exit__(self, exc_type, exc, tb):
        events.append("exit %s" % (exc_type.__name__ if exc_type else None))
        return exc_type is not None and issubclass(exc_type, self.types)


@contextlib.contextmanager
def catching(kind):
    events.append("before")
    try:
        yield "value"
    except kind as exc:
        events.append("caught %s" % type(exc).__name__)
    finally:
        events.append("after")


@contextlib.contextmanager
def transforming():
    try:
        yield
    except KeyError as exc:
        raise LookupError("transformed") from exc


def use_swallow():
    with Swallow(ValueError):
        raise ValueError("gone")
    with Swallow(ValueError) as s:
        events.append(type(s).__name__)
    try:
        with Swallow(ValueError):
            raise TypeError("kept")
    except TypeError:
        events.append("TypeError escaped")


def use_generators():
    with catching(ZeroDivisionError) as v:
        events.append(v)
        1 / 0
    with catching(ZeroDivisionError):
        events.append("quiet body")
    try:
        with transforming():
            {}["k"]
    except LookupError as exc:
        events.append(str(exc))


def use_stdlib():
    with contextlib.suppress(OSError):
        raise FileNotFoundError("nope")
    with contextlib.ExitStack() as stack:
        stack.callback(events.append, "callback")
        stack.callback(lambda: events.append("lambda callback"))
        stack.enter_context(Swallow(KeyError))
        raise KeyError("in stack")


def nested():
    with Swallow(ArithmeticError), Swallow(KeyError):
        {}["a"]
    with Swallow(ArithmeticError):
        with Swallow(KeyError):
            1 / 0
    return "nested done"


def main():
    use_swallow()
    use_generators()
    use_stdlib()
    events.append(nested())
    print(events)


main()
