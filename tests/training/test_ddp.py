"""DDP under torchrun, for real: two gloo processes on the CPU, launched by `nanogpt-lab train --nproc_per_node=2`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanogpt_lab.model.checkpoint import load_checkpoint
from nanogpt_lab.training.ddp import torchrun_command

# Imported by every Python process started with this folder on PYTHONPATH: in a torchrun rank it registers a
# global optimizer hook (a public torch API) that records a checksum of all weights after each step, per rank.
PROBE = """
import os
if os.environ.get('DDP_PROBE_DIR') and 'RANK' in os.environ:
    import hashlib, torch
    from torch.optim.optimizer import register_optimizer_step_post_hook
    path = os.path.join(os.environ['DDP_PROBE_DIR'], 'rank%s.txt' % os.environ['RANK'])
    def _hook(optimizer, args, kwargs):
        h = hashlib.sha256()
        for group in optimizer.param_groups:
            for p in group['params']:
                h.update(p.detach().cpu().numpy().tobytes())
        with open(path, 'a') as f:
            f.write(h.hexdigest() + chr(10))
    register_optimizer_step_post_hook(_hook)
"""


def test_torchrun_command_drops_nproc_and_pins_the_run_folder():
    cmd = torchrun_command('train', ['config/x.py', '--nproc_per_node', '2', '--max_iters=5'], 2, '/runs/r1')
    assert cmd[1:] == ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'nanogpt_lab.cli',
                       'train', 'config/x.py', '--max_iters=5', '--out_dir=/runs/r1']  # fmt: skip
    kept = torchrun_command('finetune', ['--nproc-per-node=4', '--out_dir=/mine'], 4, '/runs/r2')
    assert kept[-2:] == ['finetune', '--out_dir=/mine']


@pytest.mark.timeout(240)
def test_two_gloo_processes_keep_identical_weights_and_learn(char_data_dir, tmp_path, tiny_values):
    probe_dir = tmp_path / 'probe'
    (probe_dir / 'path').mkdir(parents=True)
    (probe_dir / 'path' / 'sitecustomize.py').write_text(PROBE)
    out = tmp_path / 'run'
    values = {**tiny_values, 'gradient_accumulation_steps': 4, 'max_iters': 12, 'eval_interval': 12,
              'learning_rate': 1e-2, 'batch_size': 8}  # fmt: skip
    args = [f'--{k}={v}' for k, v in values.items()]
    env = {**os.environ, 'DDP_PROBE_DIR': str(probe_dir), 'OMP_NUM_THREADS': '1',
           'PYTHONPATH': os.pathsep.join([str(probe_dir / 'path'), os.environ.get('PYTHONPATH', '')])}  # fmt: skip
    env.pop('PYTEST_CURRENT_TEST', None)
    cmd = [sys.executable, '-m', 'nanogpt_lab.cli', 'train', '--nproc_per_node=2', *args,
           f'--data_dir={char_data_dir}', f'--out_dir={out}']  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=220)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = (probe_dir / 'rank0.txt').read_text().split()
    rank1 = (probe_dir / 'rank1.txt').read_text().split()
    assert len(rank0) == 12 and rank0 == rank1  # after every one of the 12 steps, the same weights on both ranks
    assert len(set(rank0)) == 12  # and they did change at each step
    events = [json.loads(line) for line in (out / 'events.jsonl').read_text().splitlines()]
    starts = [e for e in events if e['type'] == 'start']
    assert len(starts) == 1  # rank 0 alone records the run
    trains = [e for e in events if e['type'] == 'train']
    evals = [e for e in events if e['type'] == 'eval']
    assert len(trains) == 12 and trains[-1]['tokens'] == 12 * 4 * 8 * 32  # accumulation split over 2 ranks
    assert evals[-1]['val_loss'] < evals[0]['val_loss'] - 0.3
    config = json.loads((out / 'config.json').read_text())['resolved']
    assert config['world_size'] == 2 and config['grad_accum_per_rank'] == 2  # no_sync on the first
    ckpt = load_checkpoint(out)
    assert ckpt['config']['resume_state']['batch_rng'].shape[0] == 2  # each rank's stream, for an exact resume
    assert [e['status'] for e in events if e['type'] == 'end'] == ['succeeded']
    assert Path(out / 'job.json').is_file()
