# `await queue.put(x)` on a full queue waits (yields) until a get makes
# room; `await queue.get()` on an empty queue waits for a put.
import asyncio


async def main():
    out = []
    queue = asyncio.Queue(maxsize=1)

    async def a():
        await queue.put(1)
        out.append("1")
        await queue.put(2)
        out.append("3")

    async def b():
        out.append("2")
        await queue.get()

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
