"""Under --source, never imported: listed at 0 %."""


def lonely(x):
    if x:
        return 1
    return 2
