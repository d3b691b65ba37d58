"""Exceptions: nested handlers, bare re-raise, chaining, finally, except*.

scenario-exit: 0
scenario-threads: 1
"""


class AppError(Exception):
    pass


class ParseError(AppError):
    def __init__(self, text, pos):
        super().__init__("cannot parse %r at %d" % (text, pos))
        self.pos = pos


def parse(text):
    for pos, ch in enumerate(text):
        if not ch.isdigit():
            raise ParseError(text, pos)
    return int(text)


def parse_or_reraise(text):
    try:
        return parse(text)
    except ParseError:
        if text.startswith("x"):
            raise                               # bare re-raise
        return -1


def convert(text):
    try:
        return parse_or_reraise(text)
    except ParseError as exc:
        raise ValueError("convert failed") from exc


def implicit_chain():
    try:
        {}["missing"]
    except KeyError:
        return 1 / 0                            # chained via __context__


def finally_overrides():
    try:
        raise AppError("lost")
    finally:
        return "finally wins"                   # noqa: B012 - on purpose


def finally_runs(log):
    try:
        try:
            log.append("body")
            raise AppError("inner")
        finally:
            log.append("inner finally")
    except AppError:
        log.append("handled")
    else:
        log.append("no error")
    finally:
        log.append("outer finally")


def deep(n):
    if n == 0:
        raise LookupError("bottom")
    try:
        deep(n - 1)
    finally:
        trail.append(n)


def raise_in_except():
    try:
        raise AppError("first")
    except AppError:
        try:
            raise KeyError("second")
        except KeyError as second:
            return repr(second.__context__)


def group():
    caught = []
    try:
        raise ExceptionGroup("many", [ValueError(1), TypeError(2), ValueError(3)])
    except* ValueError as eg:
        caught.append(len(eg.exceptions))
    except* TypeError as eg:
        caught.append(type(eg.exceptions[0]).__name__)
    return caught


trail = []


def main():
    out = [parse("12"), parse_or_reraise("1a")]
    try:
        convert("x1")
    except ValueError as exc:
        out.append((str(exc), type(exc.__cause__).__name__))
    try:
        implicit_chain()
    except ZeroDivisionError as exc:
        out.append(type(exc.__context__).__name__)
    out.append(finally_overrides())
    log = []
    finally_runs(log)
    out.append(log)
    try:
        deep(3)
    except LookupError:
        out.append(list(trail))
    out.append(raise_in_except())
    out.append(group())
    for value in ("5", "z"):
        try:
            out.append(parse(value))
        except AppError:
            out.append("bad " + value)
        else:
            out.append("good " + value)
    print(out)


main()
