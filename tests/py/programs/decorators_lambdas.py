"""Decorators (plain, functools.wraps, factories, stacked, class based,
on methods and classes) and lambdas (keys, map, immediately invoked, nested).

scenario-exit: 0
scenario-threads: 1
"""
import functools

calls = []


def logged(func):
    def wrapper(*args, **kwargs):
        calls.append(func.__name__)
        return func(*args, **kwargs)
    return wrapper


def repeat(times):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args):
            return [func(*args) for _ in range(times)]
        return wrapper
    return decorate


class CountCalls:
    def __init__(self, func):
        functools.update_wrapper(self, func)
        self.func = func
        self.count = 0

    def __call__(self, *args):
        self.count += 1
        return self.func(*args)


def add_hello(cls):
    cls.hello = lambda self: "hello from " + type(self).__name__
    return cls


@logged
def greet(name):
    return "hi " + name


@repeat(2)
@logged
def roll(seed):
    return seed * 3


@CountCalls
def square(x):
    return x * x


@add_hello
class Widget:
    @logged
    def method(self, v):
        return v + 1

    @functools.cached_property
    def expensive(self):
        return sum(range(5))


def main():
    out = [greet("bob"), roll(2), square(3), square(4), square.count]
    w = Widget()
    out += [w.method(1), w.hello(), w.expensive, w.expensive]
    words = ["pear", "fig", "banana", "kiwi"]
    out.append(sorted(words, key=lambda s: (len(s), s)))
    out.append(list(map(lambda x: x * 2, [1, 2, 3])))
    out.append((lambda a, b=2: a ** b)(5))
    adders = [lambda x, n=n: x + n for n in range(3)]
    out.append([f(10) for f in adders])
    compose = lambda f, g: lambda x: f(g(x))     # noqa: E731
    out.append(compose(lambda x: x + 1, lambda x: x * 10)(4))
    out.append(functools.reduce(lambda acc, x: acc * x, [1, 2, 3, 4]))
    out.append(calls)
    print(out)


main()
