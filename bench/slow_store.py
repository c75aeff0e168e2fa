"""A TCP relay in front of the S3 store that holds every answer back for a fixed time, as a
remote object store does while it stores (and replicates) a part before acknowledging it.
Requests pass at once; the first bytes the store sends after a request arrived wait `latency`,
so every request on a connection costs that once more. Used by bench/backups.sh (BENCH_STORE_LATENCY_MS).

    python3 bench/slow_store.py LISTEN_PORT TARGET_PORT LATENCY_MS   (prints nothing; ^C ends)
"""
import asyncio
import sys


async def pump(reader, writer, delay, asked):
    """Copies reader to writer. The request side (delay 0) marks `asked`; the answer side waits
    `delay` before the first chunk that follows a mark."""
    try:
        while chunk := await reader.read(1 << 16):
            if not delay:
                asked.set()
            elif asked.is_set():
                asked.clear()
                await asyncio.sleep(delay)
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(listen_port, target_port, delay):
    async def relay(client_reader, client_writer):
        try:
            store_reader, store_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        asked = asyncio.Event()
        await asyncio.gather(pump(client_reader, store_writer, 0, asked), pump(store_reader, client_writer, delay, asked))

    server = await asyncio.start_server(relay, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1000))
