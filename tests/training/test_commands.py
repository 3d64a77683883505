"""nanoGPT's README training commands with `nanogpt-lab` in front, run through the CLI on tiny stand-ins.

The GPT-2 commands need OpenWebText and OpenAI's weights, which tests cannot download: a tiny random GPT-2 in
Hugging Face layout stands in for the weights folder and tiny Shakespeare (GPT-2 BPE) for the data, so the config
files, the CLI and the loop run as they would for the real thing, only smaller.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nanogpt_lab.cli import main as cli
from nanogpt_lab.model.checkpoint import load_checkpoint

CONFIG = Path(__file__).resolve().parents[2] / 'config'
STEP = r'^step (\d+): train loss ([\d.]+), val loss ([\d.]+)'


@pytest.fixture(scope='module')
def bpe_data_dir(shakespeare_txt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny Shakespeare prepared with GPT-2 BPE (nanoGPT's data/shakespeare), offline."""
    from nanogpt_lab.config import DataConfig
    from nanogpt_lab.data import prepare

    data_dir = tmp_path_factory.mktemp('bpe')
    prepare(DataConfig(dataset='shakespeare', input=str(shakespeare_txt), data_dir=str(data_dir)))
    return data_dir


def _tiny_gpt2(folder: Path) -> str:
    """A 1-layer random GPT-2 saved by transformers: the stand-in for OpenAI's weights (`--init_from=FOLDER`)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=128)).save_pretrained(folder)
    return str(folder)


def _events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / 'events.jsonl').read_text().splitlines()]


def test_readme_cpu_command(char_data_dir, tmp_path):
    """python train.py config/train_shakespeare_char.py --device=cpu --compile=False ... (fewer iterations)."""
    flags = '--device=cpu --compile=False --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 '
    flags += '--n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0'
    run = tmp_path / 'run'
    extra = [
        f'--data_dir={char_data_dir}',
        f'--out_dir={run}',
        '--max_iters=6',
        '--eval_interval=3',
        '--eval_iters=2',
        '--threads=1',
    ]
    assert cli(['train', str(CONFIG / 'train_shakespeare_char.py'), *flags.split(), *extra]) == 0
    config = json.loads((run / 'config.json').read_text())
    assert (config['n_layer'], config['batch_size'], config['beta2'], config['warmup_iters']) == (4, 12, 0.99, 100)
    assert load_checkpoint(run)['model_args']['n_embd'] == 128


def test_nanogpt_batches_reproduce_nanogpts_own_log(char_data_dir, tmp_path):
    """With --nanogpt_batches=True the README CPU command draws nanoGPT's batches in nanoGPT's order: every loss
    its train.py printed (fixtures/nanogpt_baby_60iters.log, made by nanoGPT itself) comes out the same. A fresh
    process, as a user runs it: the kernels chosen at start (cpu_kernels: MKL's AVX2 ones on an AMD CPU) too."""
    golden = (Path(__file__).parent / 'fixtures' / 'nanogpt_baby_60iters.log').read_text()
    command = next(line for line in golden.splitlines() if line.startswith('# python train.py'))
    flags = [f for f in command.split()[4:] if not f.startswith('--out_dir')]
    run = tmp_path / 'run'
    extra = [f'--data_dir={char_data_dir}', f'--out_dir={run}', '--nanogpt_batches=True', '--threads=2']
    env = {**os.environ, 'NANOGPT_LAB_HOME': str(tmp_path / 'home')}
    cmd = [sys.executable, '-m', 'nanogpt_lab.cli', 'train', str(CONFIG / 'train_shakespeare_char.py'), *flags, *extra]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    theirs_train = {int(i): float(v) for i, v in re.findall(r'^iter (\d+): loss ([\d.]+)', golden, re.M)}
    theirs_eval = {int(i): (float(t), float(v)) for i, t, v in re.findall(STEP, golden, re.M)}
    events = _events(run)
    ours_train = {e['iter']: round(e['loss'], 4) for e in events if e['type'] == 'train'}
    ours_eval = {e['iter']: (round(e['train_loss'], 4), round(e['val_loss'], 4)) for e in events if e['type'] == 'eval'}
    assert ours_eval == theirs_eval  # iterations 0, 20, 40, 60
    assert ours_train == {i: v for i, v in theirs_train.items() if i < 60}  # nanoGPT trains one step past the end


def test_eval_gpt2_config(bpe_data_dir, tmp_path):
    """python train.py config/eval_gpt2.py: evaluate the pretrained weights once, save nothing."""
    run = tmp_path / 'eval'
    extra = [
        f'--init_from={_tiny_gpt2(tmp_path / "gpt2")}',
        '--dataset=shakespeare',
        f'--data_dir={bpe_data_dir}',
        f'--out_dir={run}',
        '--block_size=64',
        '--eval_iters=2',
        '--device=cpu',
        '--threads=1',
    ]
    assert cli(['train', str(CONFIG / 'eval_gpt2.py'), *extra]) == 0
    evals = [e for e in _events(run) if e['type'] == 'eval']
    assert len(evals) == 1 and evals[0]['iter'] == 0 and evals[0]['val_loss'] == pytest.approx(10.8, abs=0.3)
    assert not (run / 'ckpt.pt').exists()  # eval_only: nothing trained, nothing saved


def test_finetune_shakespeare_config_and_finetune_command(bpe_data_dir, tmp_path):
    """python train.py config/finetune_shakespeare.py, then `nanogpt-lab finetune` (config.FINETUNE_PRESET)."""
    weights = _tiny_gpt2(tmp_path / 'gpt2')
    run = tmp_path / 'ft'
    extra = [
        f'--init_from={weights}',
        f'--data_dir={bpe_data_dir}',
        f'--out_dir={run}',
        '--block_size=64',
        '--gradient_accumulation_steps=4',
        '--max_iters=4',
        '--eval_iters=2',
        '--device=cpu',
        '--threads=1',
    ]
    assert cli(['train', str(CONFIG / 'finetune_shakespeare.py'), *extra]) == 0
    trains = [e for e in _events(run) if e['type'] == 'train']
    assert {e['lr'] for e in trains} == {3e-5}  # constant: decay_lr=False
    assert load_checkpoint(run)['model_args']['block_size'] == 64  # cropped from the weights' 128 positions
    again = tmp_path / 'ft2'
    extra = [
        f'--init_from={weights}',
        f'--data_dir={bpe_data_dir}',
        f'--out_dir={again}',
        '--block_size=64',
        '--gradient_accumulation_steps=2',
        '--max_iters=4',
        '--eval_interval=2',
        '--eval_iters=2',
        '--device=cpu',
        '--threads=1',
    ]
    assert cli(['finetune', *extra]) == 0  # FINETUNE_PRESET: shakespeare, lr 3e-5, early stopping
    job = json.loads((again / 'job.json').read_text())
    assert job['kind'] == 'finetune' and job['config']['early_stopping_patience'] == 3
    assert job['summary']['iter_num'] == 4


def test_cpu_recipe_config(char_data_dir, tmp_path):
    """config/train_shakespeare_char_cpu.py (the recipe docs/benchmarks.md measures), cut to a few steps."""
    run = tmp_path / 'recipe'
    extra = [f'--data_dir={char_data_dir}', f'--out_dir={run}', '--max_iters=4', '--eval_iters=2', '--threads=1']
    assert cli(['train', str(CONFIG / 'train_shakespeare_char_cpu.py'), *extra]) == 0
    config = json.loads((run / 'config.json').read_text())
    assert (config['n_layer'], config['learning_rate'], config['compile']) == (2, 4e-3, False)
    assert (config['optimizer'], config['batch_size'], config['cooldown_iters']) == ('muon', 24, 175)
