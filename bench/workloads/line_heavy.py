"""Line-heavy: long loops of simple statements and few calls, so the
per-line cost of a tracer dominates."""


def sieve(limit):
    limit = max(limit, 1)        # scale 0 (bench --cachegrind)
    flags = [True] * (limit + 1)
    flags[0] = flags[1] = False
    i = 2
    while i * i <= limit:
        if flags[i]:
            j = i * i
            while j <= limit:
                flags[j] = False
                j += i
        i += 1
    count = 0
    for f in flags:
        if f:
            count += 1
    return count


def mix(n):
    a, b, c = 1, 2, 3
    for i in range(n):
        a = (a * 31 + i) % 1000003
        b ^= a
        c = c + (b & 255)
        if c > 1 << 20:
            c -= 1 << 20
        else:
            c += 1
    return a + b + c


def work(scale):
    return sieve(int(scale * 1300000)) + mix(int(scale * 1200000))


if __name__ == "__main__":
    from _harness import main

    main(work)
