"""`nanogpt-lab bench train`'s runners: both trainers in fresh processes, read back the same way."""

from __future__ import annotations

import pytest

from nanogpt_lab.config import ConfigError
from nanogpt_lab.tools.bench import train as bench

TINY_RUN = dict(
    device='cpu',
    compile=False,
    n_layer=2,
    n_head=2,
    n_embd=32,
    block_size=64,
    batch_size=4,
    max_iters=6,
    eval_interval=6,
    eval_iters=2,
    log_interval=1,
    dropout=0.0,
)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="suite 'fast' is not one of speed, quality, recipe, compile, gpu, all"):
        bench.main(['--suite=fast'])
    with pytest.raises(ConfigError, match='unknown option iterations'):
        bench.main(['--iterations=5'])
    with pytest.raises(ConfigError, match='conditions must be among quiet, busy'):
        bench.main(['--suite=speed', '--conditions=loud', '--data_dir=/nonexistent'])


def test_the_busy_condition_runs_one_spinning_process_and_stops_it():
    import psutil

    with bench.condition('busy') as what:
        pid = int(what.rsplit('pid ', 1)[1].rstrip(')'))
        spinner = psutil.Process(pid)
        assert 'while True: pass' in what and 'while True: pass' in spinner.cmdline()
        assert spinner.cpu_percent(interval=0.5) > 0  # spinning (its share depends on what else runs here)
    assert not spinner.is_running()
    with bench.condition('quiet') as what:
        assert what == 'the machine as it is'
    assert bench.geometric_mean([0.5, 2.0]) == pytest.approx(1.0)


def test_both_runners_report_speed_and_quality(char_data_dir, tmp_path, nanogpt_ref):
    copy = bench.nanogpt_copy(nanogpt_ref, char_data_dir / 'shakespeare_char', tmp_path)
    theirs = bench.run_nanogpt(copy, TINY_RUN, tmp_path / 'theirs', threads=1)
    values = {**bench.CHAR_CONFIG, **TINY_RUN, 'data_dir': char_data_dir}  # what the config file gives nanoGPT
    ours = bench.run_ours(values, None, tmp_path / 'ours', threads=1)
    for result in (theirs, ours):
        assert result.tokens_per_iter == 4 * 64 and result.ms_per_iter > 0 and result.peak_rss > 50 * 2**20
        assert 3.0 < result.reported_val < 4.4
        assert result.wall_s > 0 and result.load[0] >= 0
    val = char_data_dir / 'shakespeare_char' / 'val.bin'
    assert bench.score(tmp_path / 'ours', val) == pytest.approx(ours.reported_val, abs=0.1)
    assert '| baby, 1 | nanoGPT |' in bench._row('baby, 1', theirs, {**TINY_RUN}, 1)
    assert ours.threads == '1'  # what nanogpt-lab recorded in config.json


def test_the_recipe_ladder_scores_every_rung_and_the_recipe(char_data_dir, tmp_path, monkeypatch):
    """`--suite=recipe`: each rung a fresh `nanogpt-lab train`, scored on the whole val.bin; the recipe file last."""
    monkeypatch.setattr(bench, 'LADDER', {'baseline': {**TINY_RUN, 'max_iters': 3, 'eval_interval': 3}})
    monkeypatch.setattr(bench, 'README_CPU', {})
    recipe = tmp_path / 'recipe.py'
    recipe.write_text("n_layer = 1\nn_head = 2\nn_embd = 32\nbatch_size = 4\nmax_iters = 3\neval_iters = 2\n"
                      "optimizer = 'muon'\ndevice = 'cpu'\ncompile = False\nlog_interval = 1\nblock_size = 64\n"
                      "dataset = 'shakespeare_char'\n")  # fmt: skip
    opts = {**bench.DEFAULTS, 'recipe': str(recipe), 'recipe_rounds': 1, 'threads': 1}
    lines = list(bench.recipe_suite(opts, char_data_dir / 'shakespeare_char', tmp_path))
    rows = [line for line in lines if line.startswith('| 1 |')]
    assert [row.split(' | ')[1] for row in rows] == ['baseline', f'{bench.RECIPE_RUNG} (recipe.py)']
    assert all(3.0 < float(row.split(' | ')[5]) < 4.4 for row in rows)  # full val loss after 3 steps
    assert lines[-1].endswith('× the first rung') and lines[-2].startswith('- baseline: median wall')
    assert bench.RECIPE.is_file()  # the default --recipe: config/train_shakespeare_char_cpu.py at the repository root
