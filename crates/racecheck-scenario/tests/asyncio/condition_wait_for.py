# `await cond.wait_for(predicate)` with the predicate already true does not
# yield; `await cond.wait()` always does (it waits for a notify).
import asyncio


async def main():
    out = []
    state = {"go": 0}
    changed = asyncio.Condition()

    async def a():
        async with changed:
            out.append("1")
            await changed.wait_for(lambda: state["go"] != 0)
            out.append("3")

    async def b():
        async with changed:
            out.append("2")
            state["go"] = 1
            changed.notify()

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    for task in tasks:
        await task
    return "".join(out)
