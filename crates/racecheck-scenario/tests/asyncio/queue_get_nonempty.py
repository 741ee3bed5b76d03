# `await queue.put(x)` on a queue with room and `await queue.get()` on a
# non-empty queue do not yield.
import asyncio


async def main():
    out = []
    queue = asyncio.Queue()

    async def a():
        await queue.put(7)
        out.append("1")
        await queue.get()
        out.append("3")

    async def b():
        out.append("2")

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
