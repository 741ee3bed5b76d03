# `await event.wait()` on a set event does not yield.
import asyncio


async def main():
    out = []
    event = asyncio.Event()

    async def a():
        event.set()
        out.append("1")
        await event.wait()
        out.append("3")

    async def b():
        out.append("2")

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
