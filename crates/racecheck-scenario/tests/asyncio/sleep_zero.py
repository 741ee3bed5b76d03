# `await asyncio.sleep(0)` yields: others may run before the task goes on.
import asyncio


async def main():
    out = []

    async def a():
        out.append("1")
        await asyncio.sleep(0)
        out.append("3")

    async def b():
        out.append("2")

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
