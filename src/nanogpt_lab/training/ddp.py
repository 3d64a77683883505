"""Many processes, one model: PyTorch DistributedDataParallel as torchrun sets it up, and a torchrun launcher.

torchrun starts one process per GPU (or per CPU slot) and tells each its place through RANK, LOCAL_RANK and
WORLD_SIZE. The loop reads them here; nothing else in the lab knows about processes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from nanogpt_lab.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Distributed:
    """This process's place among the processes of a run (one process: rank 0 of 1)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    active: bool = False  # a process group exists (we run under torchrun)

    @property
    def master(self) -> bool:
        """Rank 0 alone evaluates, logs, emits events and writes checkpoints."""
        return self.rank == 0


def from_env() -> Distributed:
    """The torchrun environment, or a single process when RANK is not set."""
    if 'RANK' not in os.environ:
        return Distributed()
    return Distributed(
        rank=int(os.environ['RANK']),
        local_rank=int(os.environ.get('LOCAL_RANK', 0)),
        world_size=int(os.environ.get('WORLD_SIZE', 1)),
        active=True,
    )


def setup(dist: Distributed, device: str, backend: str) -> str:
    """Join the process group (nccl on CUDA, gloo on CPU) and return this rank's device."""
    import torch
    import torch.distributed as tdist

    if not dist.active:
        return device
    if device.startswith('cuda'):
        device = f'cuda:{dist.local_rank}'
        torch.cuda.set_device(device)
    chosen = backend if backend != 'auto' else ('nccl' if device.startswith('cuda') else 'gloo')
    if not tdist.is_initialized():
        tdist.init_process_group(backend=chosen)
    log.info('rank %d of %d on %s (%s)', dist.rank, dist.world_size, device, chosen)
    return device


def teardown(dist: Distributed) -> None:
    """Leave the process group, so torchrun sees a clean exit."""
    import torch.distributed as tdist

    if dist.active and tdist.is_initialized():
        tdist.destroy_process_group()


def agree(value: int, dist: Distributed, device: str) -> int:
    """The largest `value` over all ranks, so every rank takes the same decision (stop, compile...)."""
    if not dist.active:
        return value
    import torch
    import torch.distributed as tdist

    t = torch.tensor([value], dtype=torch.int64, device=device)
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return int(t.item())


def gather(obj: Any, dist: Distributed) -> list[Any]:
    """`obj` from every rank, in rank order (one element when alone): each rank's RNG states for a checkpoint."""
    if not dist.active:
        return [obj]
    import torch.distributed as tdist

    out: list[Any] = [None] * dist.world_size
    tdist.all_gather_object(out, obj)
    return out


def _without_nproc(argv: list[str]) -> tuple[list[str], bool]:
    """argv minus `--nproc_per_node=N` (or `--nproc_per_node N`, `--nproc-per-node=N`); and whether out_dir is set."""
    out: list[str] = []
    skip = False
    has_out_dir = False
    for arg in argv:
        if skip:
            skip = False
            continue
        key = arg[2:].split('=', 1)[0].replace('-', '_') if arg.startswith('--') else ''
        if key == 'nproc_per_node':
            skip = '=' not in arg
            continue
        has_out_dir = has_out_dir or key == 'out_dir'
        out.append(arg)
    return out, has_out_dir


def torchrun_command(kind: str, argv: list[str], nproc: int, out_dir: str | None) -> list[str]:
    """`torchrun --standalone --nproc_per_node=N -m nanogpt_lab.cli KIND ARGS...` with this Python's torch."""
    args, has_out_dir = _without_nproc(argv)
    if out_dir and not has_out_dir:
        args.append(f'--out_dir={out_dir}')  # every rank must agree on the run folder
    return [
        sys.executable,
        '-m',
        'torch.distributed.run',
        '--standalone',
        f'--nproc_per_node={nproc}',
        '-m',
        'nanogpt_lab.cli',
        kind,
        *args,
    ]


def launch_torchrun(kind: str, argv: list[str], cfg: TrainConfig) -> int:
    """`nanogpt-lab train --nproc_per_node=N ...`: run the same command under torchrun on this machine.

    `cfg` is the config the CLI built from `argv`. The run folder is chosen here when none is given, so all ranks
    write (rank 0) and resume from the same one. Ctrl-C is passed on once, as SIGTERM through torchrun, so every
    rank saves its place and stops cleanly.
    """
    import signal

    from nanogpt_lab import workspace

    nproc = cfg.nproc_per_node
    out_dir = cfg.out_dir or str(workspace.runs_root() / workspace.new_run_id(kind))
    cmd = torchrun_command(kind, argv, nproc, out_dir)
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', str(_threads_per_rank(nproc)))}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)  # our own session: one Ctrl-C, sent once
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGTERM)  # torchrun forwards it to every rank, which saves and stops


def _threads_per_rank(nproc: int) -> int:
    """CPU threads per process so that the ranks together use the machine without oversubscribing it."""
    return max(1, (os.cpu_count() or 1) // nproc)
