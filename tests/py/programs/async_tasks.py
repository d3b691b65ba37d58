"""asyncio: tasks, gather, TaskGroup, async generators, async with, queues.

Only asyncio.sleep(0) is used, so the ready queue decides the order and the
event order in the one thread is deterministic.

scenario-exit: 0
scenario-threads: 1
"""
import asyncio
import contextlib

log = []


class Resource:
    def __init__(self, name):
        self.name = name

    async def __aenter__(self):
        await asyncio.sleep(0)
        log.append("enter " + self.name)
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await asyncio.sleep(0)
        log.append("exit " + self.name)
        return exc_type is KeyError      # swallow KeyError only


@contextlib.asynccontextmanager
async def managed(tag):
    log.append("open " + tag)
    try:
        yield tag.upper()
    finally:
        log.append("close " + tag)


async def ticker(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def resilient():
    value = 0
    while True:
        try:
            yield value
        except ValueError:
            value += 100
        else:
            value += 1


async def square(x):
    await asyncio.sleep(0)
    return x * x


async def failing(msg):
    await asyncio.sleep(0)
    raise RuntimeError(msg)


async def producer(queue, count):
    for i in range(count):
        await queue.put(i)
    await queue.put(None)


async def consumer(queue):
    got = []
    while True:
        item = await queue.get()
        if item is None:
            return got
        got.append(item)


async def main():
    values = [v async for v in ticker(3)]
    async for v in ticker(2):
        values.append(v * 100)

    agen = ticker(10)
    values.append(await agen.__anext__())
    await agen.aclose()

    res = resilient()
    values.append(await res.asend(None))
    values.append(await res.athrow(ValueError("nudge")))
    values.append(await res.asend(None))
    await res.aclose()

    task = asyncio.create_task(square(7))
    values.append(await task)
    values.extend(await asyncio.gather(square(2), square(3)))

    results = await asyncio.gather(square(4), failing("boom"), return_exceptions=True)
    values.append(type(results[1]).__name__)

    try:
        await failing("direct")
    except RuntimeError as exc:
        values.append(str(exc))

    async with Resource("a") as res:
        values.append(res.name)
    async with Resource("b"):
        raise KeyError("swallowed")

    async with managed("ctx") as tag:
        values.append(tag)

    async with asyncio.TaskGroup() as tg:
        t1 = tg.create_task(square(5))
        t2 = tg.create_task(square(6))
    values.append(t1.result() + t2.result())

    queue = asyncio.Queue(maxsize=1)     # both sides suspend in turn
    got = await asyncio.gather(producer(queue, 3), consumer(queue))
    values.append(got[1])

    print(values)
    print(log)


asyncio.run(main())
