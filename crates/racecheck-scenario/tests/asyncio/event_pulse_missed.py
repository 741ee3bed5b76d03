# Without the `listening` handshake the pulse can come and go before the
# listener waits: a real hang, in asyncio too.
import asyncio


async def main():
    out = []
    pulse = asyncio.Event()

    async def listener():
        await pulse.wait()
        out.append("1")

    async def pulser():
        pulse.set()
        pulse.clear()
        out.append("2")

    tasks = [asyncio.create_task(listener()), asyncio.create_task(pulser())]
    for task in tasks:
        await task
    return "".join(out)
