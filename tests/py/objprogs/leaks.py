"""Planted leaks for tracetap --objects: KEEP holds exactly the objects
created on the lines marked LEAK-*; everything else the program makes dies
before it ends (the function `main` is deleted at the end)."""

KEEP = []                                               # LEAK-KEEP: 1 list


def main():
    for i in range(300):
        garbage = [i, str(i) * 3, {"k": i}]             # dies each pass
        tup = (garbage, i)
        del tup
        if i % 10 == 0:
            KEEP.append(bytearray(16))                  # LEAK-A: 30 bytearray
        if i % 25 == 0:
            KEEP.append({"slot": i // 25})               # LEAK-B: 12 dict
        if i % 100 == 0:
            KEEP.append([i, i + 1])                     # LEAK-C: 3 list
    floats = [x * 0.5 for x in range(1000)]             # dies
    return len(floats)


main()
del main
