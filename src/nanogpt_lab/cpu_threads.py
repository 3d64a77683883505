"""CPU threading for a process about to compute with torch, chosen when the process starts, before torch loads.

OpenMP reads its wait policy and thread count once, when torch first loads it, so the choice belongs to whoever
starts a computing process: the CLI and the job worker call `configure()` first. Importing the lab never changes
the environment. A notebook that imports torch itself keeps torch's defaults (or sets them itself).

Why it matters (docs/benchmarks.md, "Threads and waiting"): torch's OpenMP threads meet at a barrier after every
parallel operation, and by default they spin while they wait. On idle cores that is the fastest way to wait. When
another process holds a core, a spinning thread takes turns with it and every barrier waits for its turn: the
baby model's step went from ~25 ms to 300-3000 ms. So the process looks at how many cores are really free right
now (not at the load average, which lags a minute behind and counts the previous run's threads), uses that many
threads, and waits passively whenever it shares the machine. What the user set (OMP_NUM_THREADS, OMP_WAIT_POLICY,
`--threads`) always wins.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from nanogpt_lab import cpu_kernels
from nanogpt_lab.messages import ref, render

ENV_THREADS = 'OMP_NUM_THREADS'
ENV_WAIT = 'OMP_WAIT_POLICY'
SAMPLE_S = 0.1  # long enough to see a busy core, short beside a run's start-up (imports take ~1 s)
IDLE_MARGIN = 0.5  # a core counts as free when at most this much of it worked for others during the sample


@dataclass(frozen=True)
class Choice:
    """What this process chose, and why (as catalog messages, so the run's log reads in the page's language)."""

    threads: int  # OpenMP/torch intra-op threads
    wait_policy: str  # 'PASSIVE', 'ACTIVE' or 'default' (libgomp's: spin a little, then sleep)
    free_cores: float | None  # cores idle during the sample (None: not measured)
    cores: int  # cores this process may use
    why: dict[str, Any]  # messages.ref: where the thread count comes from
    waiting: dict[str, Any]  # messages.ref: how the threads wait

    @property
    def params(self) -> dict[str, Any]:
        """The parameters of the `log.cpu_threads.chosen` message."""
        return {'threads': self.threads, 'why': self.why, 'waiting': self.waiting}

    @property
    def reason(self) -> str:
        """The choice in English, for config.json."""
        return render('log.cpu_threads.chosen', self.params)


_chosen: Choice | None = None


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask, and physical cores only (torch's own default)."""
    try:
        logical = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        logical = os.cpu_count() or 1
    import psutil

    physical = psutil.cpu_count(logical=False) or logical
    return max(1, min(logical, physical))


def free_cores(seconds: float = SAMPLE_S) -> float | None:
    """How many of this process's logical CPUs sat idle over the next `seconds`: others' work only.

    Nice'd work counts as busy: with Linux's autogroup scheduling (the default on desktops and servers) nice
    only ranks processes within one session, so another session's nice'd test suite takes its full share. Time
    a hypervisor gave away (steal) is busy too. None where the counters are not available.
    """
    import psutil

    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = None
    try:
        before = psutil.cpu_times(percpu=True)
        time.sleep(seconds)
        after = psutil.cpu_times(percpu=True)
    except (OSError, AttributeError, NotImplementedError):
        return None
    free = 0.0
    for i in cpus if cpus is not None else range(len(after)):
        if i >= len(after) or i >= len(before):
            continue
        a, b = after[i], before[i]
        total = sum(a) - sum(b)
        if total <= 0:
            continue
        idle = (a.idle - b.idle) + (getattr(a, 'iowait', 0.0) - getattr(b, 'iowait', 0.0))
        free += min(1.0, max(0.0, idle / total))
    return free


def decide(cores: int, free: float | None, environ: dict[str, str], threads: int = 0) -> Choice:
    """The choice as a pure function of what was measured and what the user set (tested without a busy machine).

    Threads: OMP_NUM_THREADS, else `threads` (the run's `--threads`), else the free cores rounded (at least one,
    at most `cores`). Waiting: OMP_WAIT_POLICY, else libgomp's default on an idle machine, else PASSIVE.
    """
    if environ.get(ENV_THREADS, '').strip().isdigit() and int(environ[ENV_THREADS]) > 0:
        n, why = (
            int(environ[ENV_THREADS]),
            ref('log.cpu_threads.from_env', name=ENV_THREADS, value=environ[ENV_THREADS]),
        )
    elif threads > 0:
        n, why = threads, ref('log.cpu_threads.from_flag', value=threads)
    elif free is None:
        n, why = cores, ref('log.cpu_threads.unmeasured', cores=cores)
    else:
        n = max(1, min(cores, math.floor(free + IDLE_MARGIN)))
        why = ref('log.cpu_threads.free', free=f'{free:.1f}', cores=cores)
    idle = free is None or free >= cores - IDLE_MARGIN
    if environ.get(ENV_WAIT):
        policy, waiting = environ[ENV_WAIT].upper(), ref('log.cpu_threads.wait_env', value=environ[ENV_WAIT])
    elif n > 1 and not idle:
        policy, waiting = 'PASSIVE', ref('log.cpu_threads.wait_passive')
    else:
        policy, waiting = 'default', ref('log.cpu_threads.wait_default')
    return Choice(n, policy, free, cores, why, waiting)


def configure(threads: int = 0) -> Choice | None:
    """Measure, decide and apply the CPU threading for this process; call it before torch is imported.

    Sets OMP_NUM_THREADS, and OMP_WAIT_POLICY=PASSIVE when the cores are shared and the environment names no
    policy; and MKL's kernels (`cpu_kernels.configure`). Where torch is already loaded (a notebook, a test) it
    changes nothing and returns None: that process chose already. Otherwise returns the choice, which `chosen()`
    hands to the trainer for its log.
    """
    global _chosen
    if 'torch' in sys.modules:
        return None
    cpu_kernels.configure()
    user_threads = ENV_THREADS in os.environ or threads > 0
    free = None if user_threads and ENV_WAIT in os.environ else free_cores()
    _chosen = decide(usable_cores(), free, dict(os.environ), threads)
    os.environ[ENV_THREADS] = str(_chosen.threads)
    if _chosen.wait_policy == 'PASSIVE' and ENV_WAIT not in os.environ:
        os.environ[ENV_WAIT] = 'PASSIVE'
    return _chosen


def chosen() -> Choice | None:
    """The choice `configure()` made in this process, or None (a notebook, a test calling the engine directly)."""
    return _chosen
