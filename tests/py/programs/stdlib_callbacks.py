"""User code called back from standard-library code: the stdlib frames are
excluded by default, the user frames they call are still traced. With
--stdlib the stdlib frames in between appear too.

scenario-exit: 0
scenario-threads: 1
"""
import copy
import functools
import heapq
import json
import re
import string
import textwrap


class Item:
    def __init__(self, key):
        self.key = key

    def __lt__(self, other):
        return self.key < other.key

    def __deepcopy__(self, memo):
        return Item(self.key + 100)


def compare(a, b):
    return (a > b) - (a < b)


def shout(match):
    return match.group(0).upper()


def hook(obj):
    obj["seen"] = True
    return obj


def main():
    out = []
    out.append(re.sub(r"t[a-z]+p\b", shout, "a tracetap trace: tap tip top"))
    out.append(json.loads('{"a": {"b": 1}}', object_hook=hook))
    out.append(sorted([3, 1, 2], key=functools.cmp_to_key(compare)))
    heap = [Item(5), Item(1), Item(3)]
    heapq.heapify(heap)
    out.append(heapq.heappop(heap).key)
    out.append(copy.deepcopy([Item(7)])[0].key)
    out.append(textwrap.shorten("the quick brown fox jumps over it", width=18))
    out.append(string.Template("$who likes $what").substitute(who="tim", what="pie"))
    print(out)


main()
