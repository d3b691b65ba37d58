"""Stdlib-heavy: json, re and textwrap on sizable generated data. Most time
is in the standard library (pure Python and C), which tracetap filters out
by default: this measures what an excluded frame costs."""
import json
import re
import textwrap

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
         "nu xi omicron pi rho sigma tau upsilon phi chi psi omega").split()


def make_records(n):
    return [{"id": i, "name": WORDS[i % len(WORDS)] + str(i),
             "tags": [WORDS[(i * 7 + k) % len(WORDS)] for k in range(4)],
             "score": (i * 37 % 101) / 7.0, "active": i % 3 == 0}
            for i in range(n)]


def make_text(n):
    return " ".join(WORDS[(i * 13) % len(WORDS)] + ("," if i % 11 == 0 else "")
                    for i in range(n))


PATTERN = re.compile(r"\b(\w)(\w*?)(a|o)\b")


def work(scale):
    records = make_records(int(scale * 12000))
    blob = json.dumps(records, indent=1, sort_keys=True)
    back = json.loads(blob)
    text = make_text(int(scale * 120000))
    matches = sum(1 for _ in PATTERN.finditer(text))
    swapped = PATTERN.sub(lambda m: m.group(3) + m.group(2) + m.group(1), text)
    wrapped = textwrap.wrap(swapped, width=60)
    filled = textwrap.fill(text[: len(text) // 2], width=45)
    return len(blob) + len(back) + matches + len(wrapped) + len(filled)


if __name__ == "__main__":
    from _harness import main

    main(work)
