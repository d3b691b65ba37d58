"""Class bodies: statements in the body, nesting, metaclasses, descriptors.

scenario-exit: 0
scenario-threads: 1
"""

registry = []


class Meta(type):
    def __new__(mcls, name, bases, ns):
        ns.setdefault("tag", name.lower())
        return super().__new__(mcls, name, bases, ns)

    def __call__(cls, *args, **kwargs):
        instance = super().__call__(*args, **kwargs)
        instance.created_by_meta = True
        return instance


class Field:
    def __set_name__(self, owner, name):
        self.name = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return getattr(obj, self.name, 0)

    def __set__(self, obj, value):
        setattr(obj, self.name, value * 2)


class Base(metaclass=Meta):
    kinds = []
    for k in ("a", "b"):
        kinds.append(k.upper())
    del k

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        registry.append(cls.__name__)

    def __init__(self, x):
        self.x = x

    def describe(self):
        return "%s(%s)" % (self.tag, self.x)

    class Inner:
        level = 2

        class Deeper:
            def where(self):
                return "deep"


class Point(Base):
    size = Field()

    def __init__(self, x, y):
        super().__init__(x)
        self.y = y

    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __add__(self, other):
        return Point(self.x + other.x, self.y + other.y)

    def __repr__(self):
        return "Point(%d, %d)" % (self.x, self.y)

    @property
    def norm1(self):
        return abs(self.x) + abs(self.y)

    @norm1.setter
    def norm1(self, value):
        self.x, self.y = value, 0

    @classmethod
    def origin(cls):
        return cls(0, 0)

    @staticmethod
    def parse(text):
        a, b = text.split(",")
        return Point(int(a), int(b))


class Lazy:
    def __getattr__(self, name):
        if name.startswith("calc_"):
            return len(name)
        raise AttributeError(name)


class Tracked:
    alive = 0

    def __init__(self, name):
        self.name = name
        Tracked.alive += 1

    def __del__(self):
        Tracked.alive -= 1
        registry.append("finalized " + self.name)


def make_class(n):
    class Local(Base):
        value = n * 10

        def get(self):
            return self.value + self.x
    return Local


def main():
    p = Point(1, 2) + Point.parse("3,4")
    p.size = 5
    q = Point.origin()
    q.norm1 = 7
    out = [repr(p), p.norm1, p.size, q.x, p == Point(4, 6), p.describe()]
    out.append(Base.Inner.Deeper().where())
    out.append(Lazy().calc_abc)
    try:
        Lazy().other
    except AttributeError as exc:
        out.append(str(exc))
    local = make_class(3)(1)
    out.append((local.get(), local.tag, local.created_by_meta))
    out.append(len({Point(1, 1), Point(1, 1)}))
    t = Tracked("t1")
    out.append(Tracked.alive)
    del t                                   # __del__ runs here, from C
    Tracked("t2")                           # and here, unnamed
    out.append(Tracked.alive)
    out.append(registry)
    print(out)


main()
