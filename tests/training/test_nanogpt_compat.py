"""Our checkpoints resume under karpathy/nanoGPT's own train.py (a local checkout, run as it is, from a copy)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from nanogpt_lab.model.checkpoint import load_checkpoint, model_from_checkpoint


def test_our_checkpoint_resumes_under_nanogpts_train_py(
    tiny, tiny_values, run_train, char_data_dir, tmp_path, nanogpt_ref
):
    run = tmp_path / 'run'
    run_train(tiny(max_iters=10, eval_interval=5))  # bias=False, dropout 0: nanoGPT's own model
    checkout = tmp_path / 'nanogpt'
    checkout.mkdir()
    for name in ('train.py', 'model.py', 'configurator.py'):
        shutil.copyfile(nanogpt_ref / name, checkout / name)
    shutil.copytree(char_data_dir / 'shakespeare_char', checkout / 'data' / 'shakespeare_char')
    flags = {k: v for k, v in tiny_values.items() if k not in ('threads', 'dataset')}
    flags.update(init_from='resume', out_dir=str(run), max_iters=14, eval_interval=2, always_save_checkpoint=True,
                 dataset='shakespeare_char')  # fmt: skip
    cmd = [sys.executable, 'train.py', *(f'--{k}={v}' for k, v in flags.items())]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    result = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f'Resuming training from {run}' in result.stdout
    losses = [float(x) for x in re.findall(r'^iter \d+: loss ([\d.]+)', result.stdout, re.M)]
    assert [int(i) for i in re.findall(r'^iter (\d+):', result.stdout, re.M)] == [10, 11, 12, 13, 14]
    assert all(2.0 < loss < 3.8 for loss in losses)  # continuing from our weights, not from a fresh 4.17
    ckpt = load_checkpoint(run)  # and what nanoGPT wrote back, we read
    assert ckpt['iter_num'] == 14
    model_from_checkpoint(ckpt)
