"""Command-line options in, a load-test report out: `writ serve` on loopback driven by concurrent HTTP clients.

Starts the real server (`python -m writ.cli serve`) on a free 127.0.0.1 port
in a subprocess, then runs N concurrent clients (asyncio streams, one
keep-alive HTTP/1.1 connection each) that POST `examples/flexible-working-case.json`
to `/v1/policies/uk-flexible-working/evaluate` until the duration or the
request cap is reached. Prints requests/s, p50/p99 latency, the number of
non-2xx answers (and transport errors) and the server's resident memory
before and after. Bounded in time and count, loopback only, so it is safe to
run anywhere:

    python bench/load.py                       # 200 clients for 30 s
    python bench/load.py --quick               # 50 clients for 5 s
    python bench/load.py --reload-under-load   # and meanwhile edit a policy the way an editor saves it

`--reload-under-load` serves a copy of the policies with `--reload` and a
decision log, and while the clients run, rewrites the deciding version of
uk-flexible-working again and again in two goes: first a truncated text that
still checks (a different policy!), then, a moment later, the whole file. It
then checks every logged decision's content hash against the hashes of the
whole files: a decision made with a half-written file would show up there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATH = "/v1/policies/uk-flexible-working/evaluate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, policies: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`writ serve` in a subprocess; returns once /healthz answers (or raises after 30 s)."""
    import httpx
    server = subprocess.Popen([sys.executable, "-m", "writ.cli", "serve", "--policies", str(policies),
                               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *extra], cwd=ROOT)
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


def rss_mb(pid: int) -> float | None:
    """A process's resident memory in MB (Linux /proc), else None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """A process's CPU time so far (user + system, Linux /proc), else None: per request, it does not depend on
    what else the machine is running, as requests per second do."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def server_report(report: dict[str, Any], pid: int, rss_before: float | None, cpu_before: float | None) -> dict[str, Any]:
    cpu_after = cpu_seconds(pid)
    per_request = round(1000 * (cpu_after - cpu_before) / report["requests"], 3) \
        if cpu_after is not None and cpu_before is not None and report["requests"] else None
    return {**report, "rss_mb_before": rss_before, "rss_mb_after": rss_mb(pid), "server_cpu_ms_per_request": per_request}


TARGET = Path("uk-flexible-working") / "2024-04-06.writ"


def content_hash(policies: Path, text: str) -> str | None:
    """The content hash writ gives the target version when its file holds `text` (None if it does not check)."""
    from writ.api import Workspace
    from writ.dsl.errors import WritError
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "policies"
        shutil.copytree(policies, copy)
        (copy / TARGET).write_text(text, encoding="utf-8")
        try:
            return Workspace(copy).library.load("uk-flexible-working", "2024-04-06").content_hash
        except WritError:
            return None


def truncated_but_valid(policies: Path, text: str) -> tuple[str, str]:
    """The longest prefix of `text`, cut at a line, without the last rule, that still checks, and its hash."""
    lines = text.splitlines(keepends=True)
    for cut in range(len(lines) - 2, len(lines) // 2, -1):
        prefix = "".join(lines[:cut])
        found = content_hash(policies, prefix)
        if found is not None and prefix.strip() != text.strip():
            return prefix, found
    raise SystemExit("no truncation of the target policy checks: cannot stage a half-written file")


def edit_meanwhile(file: Path, wholes: list[str], half: str, stop: threading.Event, edits: list[int]) -> None:
    """Save the file the way an editor does, over and over: the truncated text, 0.3 s later a whole one."""
    k = 0
    while not stop.wait(1.5):
        file.write_text(half, encoding="utf-8")
        time.sleep(0.3)
        file.write_text(wholes[k % len(wholes)], encoding="utf-8")
        edits[0] += 1
        k += 1


def reload_under_load(args: argparse.Namespace) -> dict[str, Any]:
    """The load, while a policy is edited: every logged decision must come from a whole file."""
    with tempfile.TemporaryDirectory() as tmp:
        policies, log = Path(tmp) / "policies", Path(tmp) / "decisions.jsonl"
        shutil.copytree(args.policies, policies)
        original = (policies / TARGET).read_text(encoding="utf-8")
        edited = original + "\n# edited while serving\n"
        half, half_hash = truncated_but_valid(policies, original)
        good = {content_hash(policies, text) for text in (original, edited)}
        port = free_port()
        server = start_server(port, policies, "--reload", "--decision-log", str(log))
        stop, edits = threading.Event(), [0]
        editor = threading.Thread(target=edit_meanwhile, args=(policies / TARGET, [edited, original], half, stop, edits))
        before, cpu = rss_mb(server.pid), cpu_seconds(server.pid)
        editor.start()
        try:
            report = asyncio.run(drive("127.0.0.1", port, args.clients, args.seconds, args.max_requests, args.explain))
        finally:
            stop.set()
            editor.join()
            report = server_report(report, server.pid, before, cpu)
            server.terminate()
            server.wait(10)
        hashes: dict[str, int] = {}
        for line in log.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["version"] == "2024-04-06":
                hashes[record["content_hash"]] = hashes.get(record["content_hash"], 0) + 1
    bad = {h: n for h, n in hashes.items() if h not in good}
    return {**report, "edits": edits[0],
            "logged_by_hash": hashes, "half_written_hash": half_hash, "decisions_not_from_a_whole_file": sum(bad.values())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Load-test `writ serve` on loopback.")
    p.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long to drive the server (default 30)")
    p.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many requests")
    p.add_argument("--explain", choices=["none", "summary", "full"], default="none")
    p.add_argument("--policies", type=Path, default=ROOT / "policies")
    p.add_argument("--quick", action="store_true", help="50 clients for 5 s")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--reload-under-load", action="store_true",
                   help="serve with --reload while a policy file is rewritten in two goes, again and again")
    args = p.parse_args(argv)
    if args.quick:
        args.clients, args.seconds = min(args.clients, 50), min(args.seconds, 5.0)
    args.seconds = min(args.seconds, 600.0)
    if args.reload_under_load:
        report = reload_under_load(args)
    else:
        port = free_port()
        server = start_server(port, args.policies)
        try:
            before, cpu = rss_mb(server.pid), cpu_seconds(server.pid)
            report = asyncio.run(drive("127.0.0.1", port, args.clients, args.seconds, args.max_requests, args.explain))
            report = server_report(report, server.pid, before, cpu)
        finally:
            server.terminate()
            server.wait(10)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['requests']} requests from {report['clients']} clients in {report['seconds']} s: "
              f"{report['requests_per_second']} req/s, p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms, "
              f"{report['non_2xx']} non-2xx {report['statuses']}; server memory {report['rss_mb_before']} MB "
              f"before, {report['rss_mb_after']} MB after; server CPU {report['server_cpu_ms_per_request']} ms per "
              "request")
        if args.reload_under_load:
            print(f"{report['edits']} edits (each a truncated text that checks, then the whole file); decisions "
                  f"logged by content hash {report['logged_by_hash']}; the truncated text's hash "
                  f"{report['half_written_hash']}; decisions not from a whole file: "
                  f"{report['decisions_not_from_a_whole_file']}")
    return 1 if report["non_2xx"] or report.get("decisions_not_from_a_whole_file") else 0


if __name__ == "__main__":
    sys.exit(main())
