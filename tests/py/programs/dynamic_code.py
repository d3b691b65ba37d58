"""Code without a real file: exec/eval of code compiled under pseudo file
names. Such code is not the standard library, so it is traced, and its file
is reported verbatim ("<generated>"), not turned into a path.

scenario-exit: 0
scenario-threads: 1
"""

SOURCE = """
def generated(x):
    total = 0
    for i in range(x):
        total += i
    return total

result = generated(4)
"""


def main():
    namespace = {}
    exec(compile(SOURCE, "<generated>", "exec"), namespace)
    doubled = eval(compile("generated(3) * 2", "<expr>", "eval"), namespace)
    fn = namespace["generated"]
    print(namespace["result"], doubled, fn(5))


main()
