# `await task` on a finished task does not yield; `create_task` never does.
import asyncio


async def main():
    out = []
    done = asyncio.Event()

    async def worker():
        done.set()

    async def a():
        child = asyncio.create_task(worker())
        await done.wait()
        out.append("1")
        await child
        out.append("3")

    async def b():
        out.append("2")

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
