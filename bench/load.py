"""Command-line options in, a load-test report out: `writ serve` on loopback driven by concurrent HTTP clients.

Starts the real server (`python -m writ.cli serve`) on a free 127.0.0.1 port
in a subprocess, then runs N concurrent clients (asyncio streams, one
keep-alive HTTP/1.1 connection each) that POST `examples/flexible-working-case.json`
to `/v1/policies/uk-flexible-working/evaluate` until the duration or the
request cap is reached. Prints requests/s, p50/p99 latency and the number of
non-2xx answers (and transport errors). Bounded in time and count, loopback
only, so it is safe to run anywhere:

    python bench/load.py            # 200 clients for 30 s
    python bench/load.py --quick    # 50 clients for 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATH = "/v1/policies/uk-flexible-working/evaluate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, policies: Path) -> subprocess.Popen[bytes]:
    """`writ serve` in a subprocess; returns once /healthz answers (or raises after 30 s)."""
    import httpx
    server = subprocess.Popen([sys.executable, "-m", "writ.cli", "serve", "--policies", str(policies),
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"writ serve exited with status {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("writ serve did not start within 30 s")


async def client(host: str, port: int, request: bytes, stop_at: float, budget: list[int], latencies: list[float],
                 statuses: dict[int, int]) -> None:
    """One client on its own keep-alive connection, request after request until time or the shared budget runs out.

    A minimal HTTP/1.1 exchange over asyncio streams rather than httpx: with
    200 clients httpx's pool costs milliseconds of CPU per request, so the
    client, not the server, would be what is measured.
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, StopIteration, ValueError):
                status = 0  # a transport or protocol error counts as a failed answer
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def drive(host: str, port: int, clients: int, seconds: float, max_requests: int, explain: str) -> dict[str, Any]:
    case = json.loads((ROOT / "examples" / "flexible-working-case.json").read_text())
    body = json.dumps({"input": case, "explain": explain}).encode()
    request = (f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    budget = [max_requests]
    started = time.monotonic()
    await asyncio.gather(*(client(host, port, request, started + seconds, budget, latencies, statuses)
                           for _ in range(clients)))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "clients": clients, "seconds": round(elapsed, 2), "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 2) if ordered else None,
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2) if ordered else None,
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Load-test `writ serve` on loopback.")
    p.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long to drive the server (default 30)")
    p.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many requests")
    p.add_argument("--explain", choices=["none", "summary", "full"], default="none")
    p.add_argument("--policies", type=Path, default=ROOT / "policies")
    p.add_argument("--quick", action="store_true", help="50 clients for 5 s")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.clients, args.seconds = min(args.clients, 50), min(args.seconds, 5.0)
    args.seconds = min(args.seconds, 600.0)
    port = free_port()
    server = start_server(port, args.policies)
    try:
        report = asyncio.run(drive("127.0.0.1", port, args.clients, args.seconds, args.max_requests, args.explain))
    finally:
        server.terminate()
        server.wait(10)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['requests']} requests from {report['clients']} clients in {report['seconds']} s: "
              f"{report['requests_per_second']} req/s, p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms, "
              f"{report['non_2xx']} non-2xx {report['statuses']}")
    return 1 if report["non_2xx"] else 0


if __name__ == "__main__":
    sys.exit(main())
