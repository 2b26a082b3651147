# Soak: N event-stream viewers on a running livetable server, sampling the server's
# resident memory every 30 s (issue 12). A benchmark, not a test; Linux (/proc).
#
#   cargo run --release --example tcpdump -- --bind 127.0.0.1:5000 &   # window prefilled
#   python3 benches/soak.py 5000 /tcpdump/api/tables/packets/stream 1000 1800 $!
#
# Arguments: port, stream path, viewers, seconds, server pid. Prints one line per 30 s:
# elapsed, RSS, events and megabytes received, streams closed by the server.
import asyncio, sys, time
HOST, PORT, PATH = "127.0.0.1", int(sys.argv[1]), sys.argv[2]
N = int(sys.argv[3]); DURATION = float(sys.argv[4]); PID = int(sys.argv[5])
stats = {"bytes": 0, "events": 0, "closed": 0}
async def viewer(i):
    await asyncio.sleep(i * 0.005)
    r, w = await asyncio.open_connection(HOST, PORT)
    w.write(f"GET {PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode()); await w.drain()
    while True:
        data = await r.read(65536)
        if not data:
            stats["closed"] += 1; return
        stats["bytes"] += len(data); stats["events"] += data.count(b"\nid: ")
def rss():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS"): return int(line.split()[1]) / 1024
async def main():
    tasks = [asyncio.create_task(viewer(i)) for i in range(N)]
    t0 = time.time()
    while time.time() - t0 < DURATION:
        print(f"{time.time()-t0:7.0f}s rss {rss():8.1f} MB events {stats['events']} MB-received {stats['bytes']/1e6:.1f} closed {stats['closed']}", flush=True)
        await asyncio.sleep(30)
    print(f"{time.time()-t0:7.0f}s rss {rss():8.1f} MB events {stats['events']} closed {stats['closed']}", flush=True)
    for t in tasks: t.cancel()
asyncio.run(main())
