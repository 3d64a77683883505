"""`nanogpt-lab bench server`: do N event-stream watchers slow a running CPU training job down?

A real API server (uvicorn on a loopback port, in this process) runs real training jobs in worker subprocesses,
alternating rounds without and with N concurrent SSE watchers (httpx clients reading /api/jobs/{id}/events);
the figure is the median iteration time with watchers over the median without. Iterations that include an
evaluation are left out. Machine, threads and load are printed beside the numbers (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import socket
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nanogpt_lab.tools import shared_data

DEFAULTS: dict[str, Any] = {
    'watchers': 20,
    'rounds': 5,  # pairs of (without, with), alternating so drift in the machine's load hits both alike
    'max_iters': 60,
    'threads': 1,  # torch threads of the training worker: leaves the other cores to the server and watchers
    'input': None,  # tiny Shakespeare's input.txt (default: $NANOGPT_LAB_SHARED_DATA/tinyshakespeare/input.txt)
    'home': None,  # workspace to use (default: a temp folder)
}
# nanoGPT's CPU "baby" model (its README's laptop config), one event per iteration
TRAIN = dict(dataset='shakespeare_char', device='cpu', n_layer=4, n_head=4, n_embd=128, block_size=64,
             batch_size=12, gradient_accumulation_steps=1, eval_interval=10_000, eval_iters=5, log_interval=1,
             warmup_iters=10, learning_rate=1e-3, dropout=0.0, compile=False, dtype='float32')  # fmt: skip
TLS = ssl.create_default_context()  # made once: httpx loads the CA store (~56 ms CPU) per request otherwise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _start_server(port: int) -> tuple[Any, threading.Thread]:
    import uvicorn

    from nanogpt_lab.server.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(), host='127.0.0.1', port=port, log_level='warning'))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread


async def _watch(base: str, job_id: str, counts: list[int]) -> None:
    import httpx

    url = f'{base}/api/jobs/{job_id}/events'
    async with httpx.AsyncClient(timeout=None, verify=TLS) as client, client.stream('GET', url) as response:
        async for line in response.aiter_lines():
            if line.startswith('data:'):
                counts.append(1)


def _wait_done(base: str, job_id: str) -> dict:
    import httpx

    while True:
        job = httpx.get(f'{base}/api/jobs/{job_id}', verify=TLS).json()
        if job['status'] in ('succeeded', 'failed', 'cancelled'):
            return job
        time.sleep(0.5)


def _cpu() -> tuple[float, float]:
    """CPU seconds used so far by this process (server + watchers) and by its finished children (the workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def _one_round(base: str, opts: dict, watchers: int) -> dict[str, Any]:
    import httpx

    cpu0, t0 = _cpu(), time.monotonic()
    body = {**TRAIN, 'max_iters': opts['max_iters'], 'lr_decay_iters': opts['max_iters'], 'threads': opts['threads']}
    job = httpx.post(f'{base}/api/jobs/train', json=body, verify=TLS).json()
    counts: list[int] = []
    watch_thread = None
    if watchers:

        def run_watchers() -> None:
            async def all_of_them() -> None:
                await asyncio.gather(*(_watch(base, job['id'], counts) for _ in range(watchers)))

            asyncio.run(all_of_them())

        watch_thread = threading.Thread(target=run_watchers, daemon=True)
        watch_thread.start()
    done = _wait_done(base, job['id'])
    if watch_thread:
        watch_thread.join(timeout=30)
    deadline = time.monotonic() + 10  # the manager records exit_code once it has reaped the worker: count its CPU
    while (
        httpx.get(f'{base}/api/jobs/{job["id"]}', verify=TLS).json().get('exit_code') is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    cpu1, wall = _cpu(), time.monotonic() - t0
    events = httpx.get(f'{base}/api/runs/{job["id"]}/events', verify=TLS).json()['events']
    dts = [e['dt_ms'] for e in events if e['type'] == 'train' and e.get('iter', 0) > 5 and e.get('dt_ms')]
    if done['status'] != 'succeeded' or not dts:
        raise RuntimeError(f'training job {job["id"]} ended {done["status"]}: {done.get("error")}')
    return {'watchers': watchers, 'median_ms': statistics.median(dts), 'iters': len(dts), 'messages': len(counts),
            'load': os.getloadavg()[0], 'server_cpu_s': cpu1[0] - cpu0[0], 'worker_cpu_s': cpu1[1] - cpu0[1],
            'wall_s': wall}  # fmt: skip


def _prepare(base: str, opts: dict) -> None:
    import httpx

    data = Path(os.environ.get('NANOGPT_LAB_HOME', '')) / 'data' / 'shakespeare_char' / 'train.bin'
    if data.exists():
        return
    source = opts['input'] or str(shared_data() / 'tinyshakespeare' / 'input.txt')
    body = {'dataset': 'shakespeare_char', 'input': source}
    job = httpx.post(f'{base}/api/jobs/prepare-data', json=body, verify=TLS).json()
    if 'id' not in job or _wait_done(base, job['id'])['status'] != 'succeeded':
        raise RuntimeError(f'could not prepare tiny Shakespeare from {source}: {job}')


def main(args: list[str]) -> int:
    """Alternate rounds without and with watchers on one live server; print the table for docs/benchmarks.md."""
    from nanogpt_lab.config import parse_overrides

    _, flags = parse_overrides(args)
    unknown = set(flags) - set(DEFAULTS)
    if unknown:
        print(f'bench server: unknown option --{sorted(unknown)[0]}; options: {", ".join(DEFAULTS)}')
        return 2
    opts = {**DEFAULTS, **flags}
    home = opts['home'] or tempfile.mkdtemp(prefix='nanogpt-lab-bench-')
    os.environ['NANOGPT_LAB_HOME'] = str(home)
    port = _free_port()
    server, thread = _start_server(port)
    base = f'http://127.0.0.1:{port}'
    try:
        _prepare(base, opts)
        load_before = os.getloadavg()
        rows = []
        for _ in range(opts['rounds']):
            rows.append(_one_round(base, opts, 0))
            rows.append(_one_round(base, opts, opts['watchers']))
        _report(rows, opts, load_before, os.getloadavg())
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return 0


def _report(rows: list[dict], opts: dict, load_before: tuple, load_after: tuple) -> None:
    base = statistics.median(r['median_ms'] for r in rows if not r['watchers'])
    watched = statistics.median(r['median_ms'] for r in rows if r['watchers'])
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; '
          f'training worker torch threads {opts["threads"]}; server threads {threading.active_count()}')  # fmt: skip
    print(f'load average before {load_before[0]:.2f}, after {load_after[0]:.2f}')
    print('| round | watchers | median iteration (ms) | iterations | SSE messages read | server+watchers CPU (s) '
          '| worker CPU (s) | wall (s) | load (1 min) |')  # fmt: skip
    print('|---|---|---|---|---|---|---|---|---|')
    for i, r in enumerate(rows):
        cells = (
            i // 2 + 1,
            r['watchers'],
            f'{r["median_ms"]:.2f}',
            r['iters'],
            r['messages'],
            f'{r["server_cpu_s"]:.2f}',
            f'{r["worker_cpu_s"]:.2f}',
            f'{r["wall_s"]:.1f}',
            f'{r["load"]:.2f}',
        )
        print('| ' + ' | '.join(map(str, cells)) + ' |')
    cpu = {w: statistics.median(r['worker_cpu_s'] for r in rows if bool(r['watchers']) == w) for w in (False, True)}
    pairs = list(zip(rows[::2], rows[1::2], strict=True))  # (without, with), run back to back
    wall_ratio = statistics.median(b['median_ms'] / a['median_ms'] for a, b in pairs)
    cpu_ratio = statistics.median(b['worker_cpu_s'] / a['worker_cpu_s'] for a, b in pairs)
    print(
        f'\nwith {opts["watchers"]} watchers: median iteration {watched:.2f} ms vs {base:.2f} ms '
        f'({100 * (watched / base - 1):+.1f}%), median of paired rounds {100 * (wall_ratio - 1):+.1f}%; '
        f'worker CPU per run {cpu[True]:.2f} s vs {cpu[False]:.2f} s, paired {100 * (cpu_ratio - 1):+.1f}%'
    )
