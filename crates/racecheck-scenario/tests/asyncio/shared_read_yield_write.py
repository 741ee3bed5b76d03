# With an await between the read and the write, an update can be lost.
import asyncio


async def main():
    state = {"count": 0}

    async def increment():
        n = state["count"]
        await asyncio.sleep(0)
        state["count"] = n + 1

    tasks = [asyncio.create_task(increment()), asyncio.create_task(increment())]
    for task in tasks:
        await task
    return str(state["count"])
