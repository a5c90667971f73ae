"""Soak test of mcp2: bounded mixed load with reloads and upstream kills. Run via `scripts/soak`.

    scripts/soak [--minutes 10] [--clients 4] [--binary target/release/mcp2]

Starts `mcp2 serve` over two server-everything upstreams: `everything` (shared, stdio; killed
with SIGKILL every `--kill-every` seconds, its PID read from /_mcp2/ready) and `sampler`
(`session per-client`: sampling needs to know its client). `--clients` Python SDK clients loop
over tool calls, tool lists, a call with progress and a sampling call, reconnecting when their
session is lost. The route file is rewritten (a deny rule toggled) every `--reload-every` seconds
and reloaded through POST /_mcp2/reload. At the end it prints the calls made, the failures by
reason, and mcp2's RSS and open fds at start and end, and exits non-zero when a failure is not
attributable to a killed upstream (an `everything__*` call within `--grace` seconds of a kill,
or an error naming upstream `everything`), when mcp2 died, or when RSS or fds grew beyond the
tolerances.
"""

import argparse
import asyncio
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from mcp import Client, types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVERYTHING = os.path.join(ROOT, ".fixtures/node/node_modules/.bin/mcp-server-everything")


def routes(deny: bool) -> str:
    rule = '  deny tool everything/get-env\n' if deny else ''
    return f"""
upstream everything {{
  stdio "{EVERYTHING}"
  timeout 20s
}}
upstream sampler {{
  stdio "{EVERYTHING}"
  session per-client
  timeout 20s
}}
profile default {{
  prefix "{{upstream}}__"
  use everything, sampler
{rule}}}
endpoint "/mcp" -> default
"""


class Stats:
    def __init__(self):
        self.ok = collections.Counter()
        self.failed = collections.Counter()  # (op, reason) -> n
        self.unexpected = collections.Counter()
        self.kills = []  # times of kills

    def attributable(self, op: str, reason: str, at: float, grace: float) -> bool:
        if "everything" in reason and "sampler" not in reason:
            return True
        near_kill = any(k <= at <= k + grace for k in self.kills)
        return near_kill and (op.startswith("everything__") or op in ("connect", "list"))

    def fail(self, op: str, reason: str, grace: float):
        reason = re.sub(r"\d+(\.\d+)?", "N", reason)[:160]
        self.failed[(op, reason)] += 1
        if not self.attributable(op, reason, time.monotonic(), grace):
            self.unexpected[(op, reason)] += 1


def proc_figures(pid: int) -> dict:
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_kib": rss, "fds": fds}


def admin(base: str, path: str, method: str = "GET"):
    request = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def texts(result) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


async def client_loop(n: int, url: str, stats: Stats, stop: float, grace: float):
    async def sampling(context, params):
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"soak answer {n}"),
            model="soak-model",
        )

    progress_seen = collections.Counter()

    async def on_progress(progress, total, message):
        progress_seen["n"] += 1

    while time.monotonic() < stop:
        try:
            # Even clients use initialize-era sessions (which `session per-client` maps to a
            # connection of their own, so they sample); odd ones the session-less 2026 protocol.
            legacy = n % 2 == 0
            client = Client(
                url,
                mode="legacy" if legacy else "auto",
                sampling_callback=sampling,
                read_timeout_seconds=30,
                cache=None,
            )
            async with client:
                stats.ok["connect"] += 1
                i = 0
                while time.monotonic() < stop:
                    i += 1
                    op = "everything__get-sum"
                    try:
                        kind = i % 4
                        if kind == 0:
                            op = "list"
                            listed = await client.list_tools()
                            if not any(t.name == "sampler__echo" for t in listed.tools):
                                raise RuntimeError(f"tools missing: {len(listed.tools)} listed")
                        elif kind == 1:
                            op = "everything__get-sum"
                            r = await client.call_tool(op, {"a": i, "b": 1})
                            if r.is_error or texts(r) != f"The sum of {i} and 1 is {i + 1}.":
                                raise RuntimeError(f"tool error: {texts(r)}")
                        elif kind == 2:
                            op = "everything__trigger-long-running-operation"
                            r = await client.call_tool(
                                op, {"duration": 0.2, "steps": 2}, progress_callback=on_progress
                            )
                            if r.is_error:
                                raise RuntimeError(f"tool error: {texts(r)}")
                        elif not legacy:
                            op = "sampler__get-sum"
                            r = await client.call_tool(op, {"a": 1, "b": i})
                            if r.is_error or texts(r) != f"The sum of 1 and {i} is {i + 1}.":
                                raise RuntimeError(f"tool error: {texts(r)}")
                        else:
                            op = "sampler__trigger-sampling-request"
                            r = await client.call_tool(op, {"prompt": f"soak {n}", "maxTokens": 5})
                            if r.is_error or f"soak answer {n}" not in texts(r):
                                raise RuntimeError(f"sampling: {texts(r)[:80]}")
                        stats.ok[op] += 1
                    except Exception as e:  # every failure is counted with its reason
                        stats.fail(op, f"{type(e).__name__}: {e}", grace)
                        if "Session" in str(e) or "closed" in str(e).lower():
                            break
                        await asyncio.sleep(0.2)
        except Exception as e:
            stats.fail("connect", f"{type(e).__name__}: {e}", grace)
            await asyncio.sleep(1)
    stats.ok["progress notifications"] += progress_seen["n"]


async def reloader(routes_file: str, base: str, stats: Stats, stop: float, every: float):
    deny = False
    while time.monotonic() + every < stop:
        await asyncio.sleep(every)
        deny = not deny
        with open(routes_file, "w") as f:
            f.write(routes(deny))
        status, body = await asyncio.to_thread(admin, base, "/_mcp2/reload", "POST")
        if status == 200:
            stats.ok["reload"] += 1
        else:
            stats.fail("reload", f"HTTP {status}: {json.dumps(body)[:120]}", 0)


async def killer(base: str, stats: Stats, stop: float, every: float):
    while time.monotonic() + every < stop:
        await asyncio.sleep(every)
        _, ready = await asyncio.to_thread(admin, base, "/_mcp2/ready")
        pid = (ready or {}).get("upstreams", {}).get("everything", {}).get("pid")
        if not pid:
            stats.fail("kill", f"no pid for everything in /_mcp2/ready: {ready}", 0)
            continue
        stats.kills.append(time.monotonic())
        os.kill(pid, signal.SIGKILL)
        stats.ok["kill"] += 1


def start_mcp2(binary: str, routes_file: str):
    proc = subprocess.Popen(
        [binary, "serve", routes_file, "--port", "0", "--no-watch"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"mcp2 listening on (http://[0-9.:]+)", line)
        if m:
            # Drain stderr from here on so mcp2 never blocks on a full pipe.
            log = open(routes_file + ".log", "w")
            asyncio.get_event_loop().run_in_executor(None, lambda: [log.write(l) for l in proc.stderr])
            return proc, m.group(1)
        if proc.poll() is not None:
            sys.exit(f"mcp2 exited before listening: {line}")
    sys.exit("mcp2 did not listen within 60 s")


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/mcp2"))
    p.add_argument("--reload-every", type=float, default=5)
    p.add_argument("--kill-every", type=float, default=60)
    p.add_argument("--grace", type=float, default=20, help="seconds after a kill whose failures it explains")
    p.add_argument("--rss-tolerance-mib", type=float, default=32)
    p.add_argument("--fd-tolerance", type=int, default=8)
    args = p.parse_args()
    if not os.path.exists(EVERYTHING):
        sys.exit("run scripts/install-test-deps first")
    work = tempfile.mkdtemp(prefix="mcp2-soak-")
    routes_file = os.path.join(work, "routes.mcproute")
    with open(routes_file, "w") as f:
        f.write(routes(False))
    proc, base = start_mcp2(args.binary, routes_file)
    url = base + "/mcp"
    stats = Stats()
    started = time.monotonic()
    stop = started + args.minutes * 60

    # Warm up (upstreams connected, clients' sessions made) before the start figures.
    warm = time.monotonic() + 60
    while admin(base, "/_mcp2/ready")[0] != 200 and time.monotonic() < warm:
        await asyncio.sleep(0.5)
    tasks = [asyncio.create_task(client_loop(n, url, stats, stop, args.grace)) for n in range(args.clients)]
    await asyncio.sleep(min(10, args.minutes * 6))
    start_figures = proc_figures(proc.pid)
    tasks.append(asyncio.create_task(reloader(routes_file, base, stats, stop, args.reload_every)))
    tasks.append(asyncio.create_task(killer(base, stats, stop, args.kill_every)))
    await asyncio.gather(*tasks)
    await asyncio.sleep(2)  # sessions closed, children reaped
    alive = proc.poll() is None
    end_figures = proc_figures(proc.pid) if alive else {}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()

    calls = sum(v for k, v in stats.ok.items() if k not in ("reload", "kill", "connect", "progress notifications"))
    failed = sum(stats.failed.values())
    print(f"soak: {args.minutes:g} min, {args.clients} clients, mcp2 pid {proc.pid}, logs in {routes_file}.log")
    print(f"operations ok: {calls} ({dict(stats.ok)})")
    print(f"operations failed: {failed}")
    for (op, reason), n in stats.failed.most_common():
        mark = "UNEXPECTED " if (op, reason) in stats.unexpected else ""
        print(f"  {mark}{n} x {op}: {reason}")
    print(f"kills: {len(stats.kills)}, reloads: {stats.ok['reload']}")
    print(f"start: {start_figures}")
    print(f"end:   {end_figures}")
    problems = []
    if stats.unexpected:
        problems.append(f"{sum(stats.unexpected.values())} failures not attributable to a killed upstream")
    if not alive:
        problems.append("mcp2 died")
    else:
        if end_figures["rss_kib"] > start_figures["rss_kib"] + args.rss_tolerance_mib * 1024:
            problems.append("RSS grew beyond the tolerance")
        if end_figures["fds"] > start_figures["fds"] + args.fd_tolerance:
            problems.append("open fds grew beyond the tolerance")
    if calls == 0:
        problems.append("no operation succeeded")
    if problems:
        print("FAIL: " + "; ".join(problems))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    asyncio.run(main())
