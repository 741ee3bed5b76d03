# Reading and writing a variable do not yield: two increments without an
# await between the read and the write never lose an update.
import asyncio


async def main():
    state = {"count": 0}

    async def increment():
        n = state["count"]
        state["count"] = n + 1

    tasks = [asyncio.create_task(increment()), asyncio.create_task(increment())]
    for task in tasks:
        await task
    return str(state["count"])
