# `await lock.acquire()` on a free lock does not yield: nothing runs
# between "1" and "3".
import asyncio


async def main():
    out = []
    lock = asyncio.Lock()

    async def a():
        out.append("1")
        await lock.acquire()
        out.append("3")
        lock.release()

    async def b():
        out.append("2")

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
