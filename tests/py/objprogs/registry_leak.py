"""Why alive: objects kept only through a registry, a module
global -> dict -> list -> object chain. Run by test_objects_why.py with
tracetap.record around main(); the test finds the chain itself with
gc.get_referrers and compares."""
import gc
import json
import sys
import types

import tracetap


class Plugin:
    def __init__(self, n):
        self.n = n


REGISTRY = {"plugins": []}


def main():
    for i in range(3):
        REGISTRY["plugins"].append(Plugin(i))           # LEAK: 3 Plugin


def label(obj, nxt):
    """The step label tracetap gives obj (nxt: the step after it)."""
    if isinstance(obj, types.ModuleType):
        return "module '%s'" % obj.__name__
    if isinstance(obj, type):
        return "class '%s'" % obj.__qualname__
    if type(obj) is dict and nxt is not None:
        for k, v in obj.items():
            if v is nxt and isinstance(k, str):
                return "dict['%s']" % k
    return type(obj).__name__


def chain_by_referrers(target):
    """Breadth-first over gc.get_referrers from target to a module: the
    shortest chain, as tracetap's text (an independent reference)."""
    seen = {id(target)}
    nxt_of = {id(target): None}
    objs = {id(target): target}
    frontier = [target]
    mine = set()
    while frontier:
        found = []
        mine.update((id(frontier), id(found), id(seen), id(nxt_of),
                     id(objs), id(mine)))
        for o in frontier:
            for r in gc.get_referrers(o):
                if id(r) in seen or id(r) in mine or \
                        isinstance(r, types.FrameType):
                    continue
                seen.add(id(r))
                nxt_of[id(r)] = o
                objs[id(r)] = r
                found.append(r)
                if isinstance(r, types.ModuleType):
                    steps, cur = [], r
                    while cur is not None:
                        nxt = nxt_of[id(cur)]
                        steps.append(label(cur, nxt))
                        cur = nxt
                    return " -> ".join(steps)
        frontier = found
    return None


if __name__ == "__main__":
    out, flags = sys.argv[1], sys.argv[2:]
    with tracetap.record(out, objects=True,
                         calls="--no-calls" not in flags) as rec:
        main()
    ref = chain_by_referrers(REGISTRY["plugins"][0])
    json.dump({"reference": ref, "summary": rec.summary["objects"]},
              sys.stdout)
