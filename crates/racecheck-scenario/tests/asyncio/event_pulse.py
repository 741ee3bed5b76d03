# Issue 15's listener and pulser: the listener sets `listening` and is
# waiting for `pulse` before the pulser can run, and `set` wakes it even
# though `clear` follows at once. Never a hang.
import asyncio


async def main():
    out = []
    listening = asyncio.Event()
    pulse = asyncio.Event()

    async def listener():
        listening.set()
        await pulse.wait()
        out.append("1")

    async def pulser():
        await listening.wait()
        pulse.set()
        pulse.clear()
        out.append("2")

    tasks = [asyncio.create_task(listener()), asyncio.create_task(pulser())]
    for task in tasks:
        await task
    return "".join(out)
