# `await sem.acquire()` on a BoundedSemaphore with a free permit does not
# yield.
import asyncio


async def main():
    out = []
    sem = asyncio.BoundedSemaphore(1)

    async def a():
        out.append("1")
        await sem.acquire()
        out.append("3")
        sem.release()

    async def b():
        out.append("2")

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
