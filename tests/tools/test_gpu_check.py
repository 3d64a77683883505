"""tools/gpu_check.sh on a machine without a GPU: the dry run, and the figures it reads from a run's files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nanogpt_lab.config import ConfigError
from nanogpt_lab.tools import gpu_check

ROOT = Path(__file__).resolve().parents[2]


def test_the_script_dry_runs_on_a_cpu() -> None:
    done = subprocess.run([ROOT / 'tools' / 'gpu_check.sh', '--dry-run'], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'gpu_check dry run ok: 5 checks planned' in done.stdout
    assert '--dtype=bfloat16 --compile=True' in done.stdout and '--backend=nccl' in done.stdout


def test_the_dry_run_validates_arguments_and_writes_nothing(tmp_path, capsys) -> None:
    assert gpu_check.main(['--dry-run', f'--out={tmp_path / "check"}', '--steps=12']) == 0
    assert 'torch.distributed.run --standalone --nproc_per_node=1 -m nanogpt_lab train' in capsys.readouterr().out
    assert not (tmp_path / 'check').exists()
    with pytest.raises(ConfigError):
        gpu_check.main(['--dry-run', '--stepz=3'])


def test_figures_and_table_come_from_the_runs_own_files(char_data_dir, tmp_path) -> None:
    from nanogpt_lab.cli import main as cli

    run = tmp_path / 'run'
    flags = ['--dataset=shakespeare_char', '--device=cpu', '--compile=False', '--n_layer=1', '--n_head=1']
    flags += ['--n_embd=16', '--block_size=16', '--batch_size=2', '--max_iters=8', '--eval_iters=1', '--threads=1']
    assert cli(['train', *flags, f'--data_dir={char_data_dir}', f'--out_dir={run}']) == 0
    figures = gpu_check.train_figures(run)
    assert figures['tokens_per_s'] > 0 and 0 < figures['mfu_vs_989'] < 1e-3  # a CPU against an H100's bf16 peak
    assert figures['losses_finite'] and figures['world_size'] == 1 and figures['dtype'] == 'float32'
    check = gpu_check.Check('ddp_nccl', status='ok', seconds=12.0, figures=figures)
    info = {'gpus': ['NVIDIA H100 80GB HBM3'], 'torch': '2.13.0', 'cuda': '12.8', 'nccl': '2.27.3', 'commit': 'abc'}
    table = gpu_check.markdown({**info, 'date': '2026-12-07 09:00'}, [check, gpu_check.Check('bench_sft', 'skipped')])
    assert '| DDP, nccl, every visible GPU | ok |' in table and 'world size 1' in table
    assert '| `bench sft --device=cuda` | skipped |' in table
