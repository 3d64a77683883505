"""The sampling benchmark: its baseline is nanoGPT's method, and every method runs and is reported."""

from __future__ import annotations

import shutil

import pytest
import torch

from nanogpt_lab.inference import generate_ids
from nanogpt_lab.model import GPT
from nanogpt_lab.tools.bench import sample as bench


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return GPT(bench.SHAKESPEARE_CHAR.model_copy(update={'n_layer': 2})).eval()


def test_baseline_is_our_no_cache_path_within_the_block(model):
    idx = torch.zeros((1, 1), dtype=torch.long)
    ours = generate_ids(
        model, idx, 24, bench.TEMPERATURE, bench.TOP_K, kv_cache=False, generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(bench.nanogpt_method(model, idx, 24, torch.Generator().manual_seed(5)), ours)


def test_nanogpts_own_generate_draws_the_same_tokens(model, nanogpt_ref, tmp_path):
    shutil.copyfile(nanogpt_ref / 'model.py', tmp_path / 'model.py')  # importing it writes __pycache__ beside it
    ref = bench.load_nanogpt_model(str(tmp_path), model.state_dict(), model.config)
    idx = torch.zeros((1, 1), dtype=torch.long)
    torch.manual_seed(5)
    theirs = ref.generate(idx, 16, temperature=bench.TEMPERATURE, top_k=bench.TOP_K)
    assert torch.equal(bench.nanogpt_method(model, idx, 16, torch.Generator().manual_seed(5)), theirs)


def test_run_reports_every_method(capsys):
    result = bench.run(max_new_tokens=4, reps=2, threads=1, report=lambda line: None)
    assert set(result['median_tokens_per_s']) == {'kv_cache', 'no_cache', 'nanogpt_method'}
    assert all(len(v) == 2 and min(v) > 0 for v in result['tokens_per_s'].values())
    assert result['machine']['torch_threads'] == 1 and len(result['machine']['loadavg_before']) == 3
    assert bench.main(['--bogus=1']) == 2
