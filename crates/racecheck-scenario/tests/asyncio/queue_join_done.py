# `await queue.join()` with no unfinished item does not yield.
import asyncio


async def main():
    out = []
    queue = asyncio.Queue()

    async def a():
        out.append("1")
        await queue.join()
        out.append("3")

    async def b():
        out.append("2")

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
