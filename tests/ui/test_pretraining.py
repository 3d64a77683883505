"""Stage 4: the config form and its commands, tokens per iteration, DDP, a replayed run and a real one (streamed,
then stopped with a checkpoint), pre-LN vs post-LN."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from nicegui.testing import User


async def test_form_shows_the_command_and_flags_invalid_combinations(user: User, text, one, found) -> None:
    await user.open('/pretraining?lang=en')
    command = text(user, 'form-command')
    assert command.startswith('nanogpt-lab train --eval_interval=250')
    for flag in (
        '--dataset=shakespeare_char',
        '--n_layer=4',
        '--n_embd=128',
        '--block_size=64',
        '--learning_rate=0.001',
    ):
        assert flag in command
    assert text(user, 'form-torchrun').startswith('torchrun --standalone --nproc_per_node=4 -m nanogpt_lab.cli train')
    torchrun = text(user, 'form-torchrun')  # valid on first load: each process keeps its micro-step, and says so
    assert '--gradient_accumulation_steps=4' in torchrun and 'not valid' not in torchrun
    assert '# gradient_accumulation_steps 1 → 4: each of the 4 processes takes a whole share' in torchrun
    assert text(user, 'micro-formula').startswith('batch_size 12 × block_size 64 × gradient_accumulation_steps 1 × ')
    one(user, 'form-n_head').value = 3
    assert 'n_embd (128) must be divisible by n_head (3)' in text(user, 'form-error')
    assert one(user, 'form-n_head').props['error'] is True and one(user, 'form-n_embd').props['error'] is True
    one(user, 'form-n_head').value = 4
    assert text(user, 'form-error') == ''
    assert not found(user, marker='form-lr-decay')  # nanoGPT's CPU command decays over its 2000 iterations
    one(user, 'form-max_iters').value = 200
    assert text(user, 'form-lr-decay').startswith('lr_decay_iters (2,000) is larger than max_iters (200)')
    user.find(marker='form-lr-decay-fix').click()
    assert one(user, 'form-lr_decay_iters').value == 200 and '--lr_decay_iters=200' in text(user, 'form-command')
    one(user, 'form-gradient_accumulation_steps').value = 8
    one(user, 'ddp-gpus').value = 2
    assert '--gradient_accumulation_steps=8' in text(user, 'form-command')
    assert text(user, 'micro-formula').endswith('× processes 1 = 6,144 tokens per iteration')
    assert text(user, 'micro-ddp') == 'On 2 processes (torchrun): 12,288 tokens per iteration'
    assert '--nproc_per_node=2' in text(user, 'form-torchrun') and '#' not in text(user, 'form-torchrun')
    assert '--nanogpt_batches' not in text(user, 'form-command')  # folded, off: the lab's own streams
    one(user, 'form-nanogpt_batches').value = True
    assert '--nanogpt_batches=True' in text(user, 'form-command')
    one(user, 'form-model').value = 'gpt2'
    assert '--model=gpt2' in text(user, 'form-command') and '--n_layer' not in text(user, 'form-command')


async def test_a_replay_fills_the_loss_chart_with_the_recorded_run(user: User, until, text, one) -> None:
    await user.open('/pretraining?lang=en&speed=instant')
    monitor = one(user, 'monitor')
    user.find(marker='start').click()
    await until(lambda: monitor.curves.end is not None, timeout=90)
    await until(lambda: not one(user, 'stop').enabled)
    assert len(monitor.curves.train) == 2000 and len(monitor.curves.val) == 9
    assert monitor.curves.samples  # text sampled at each recorded evaluation
    options = one(user, 'monitor-loss-chart').options
    names = [s['name'] for s in options['series']]
    assert names == ['baby-char-2000 (recorded)', 'train loss', 'val loss']  # the ghost sits under the run
    train = options['series'][1]
    assert len(train['data']) <= 650 and train['data'][-1][0] == 1999  # thinned for drawing, newest point kept
    assert train['markLine']['data'][0]['yAxis'] == round(math.log(65), 4)  # a uniform guess over 65 characters
    assert options['series'][2]['markPoint']['data'][0]['coord'][0] == 2000  # the best val point
    assert text(user, 'monitor-loss-provenance').startswith('simulated · recorded: baby-char-2000')
    assert text(user, 'monitor-iter-value') == '2,000 / 2,000'  # iter 1999 counts from 0: all 2,000 steps done
    assert options['xAxis']['max'] == 2000  # the axis is the run's own length
    one(user, 'monitor-loss-log').value = True
    assert one(user, 'monitor-loss-chart').options['yAxis']['type'] == 'log'


async def test_pre_and_post_ln_side_by_side(user: User, one) -> None:
    await user.open('/pretraining?lang=en')
    loss = one(user, 'ln-loss-chart').options
    grad = one(user, 'ln-grad-chart').options
    assert [s['name'] for s in loss['series']] == ['pre-LN (GPT-2)', 'post-LN (GPT-1)']
    assert grad['yAxis']['type'] == 'log'
    pre, post = (s['data'][-1][1] for s in loss['series'])
    assert post > pre + 0.3  # post-LN stalls at this depth without warmup
    peak_pre, peak_post = (max(p[1] for p in s['data']) for s in grad['series'])
    assert peak_post > peak_pre


async def test_gpt1_and_gpt2_on_one_chart_in_bits_per_character(user: User, until, one) -> None:
    """The recorded pair: each side's held-out loss in bits per character (what the events recorded), and the same
    evaluations in nats per token beside it; a replay redraws both from the replayed events."""
    from nanogpt_lab.simulation import assets

    await user.open('/pretraining?lang=en')
    bpc, nats = one(user, 'pair-bpc-chart').options, one(user, 'pair-nats-chart').options
    assert [s['name'] for s in bpc['series']] == ['GPT-1', 'GPT-2'] and bpc['yAxis']['name'] == 'bits per character'
    for series, name in zip(bpc['series'], ('gpt-pair-gpt1', 'gpt-pair-gpt2'), strict=True):
        evals = [e for e in assets.load_events(name) if e['type'] == 'eval']
        assert series['data'] == [[e['iter'], e['val_bpc']] for e in evals]
    for series, name in zip(nats['series'], ('gpt-pair-gpt1', 'gpt-pair-gpt2'), strict=True):
        assert series['data'][-1][1] == [e for e in assets.load_events(name) if e['type'] == 'eval'][-1]['val_loss']
    user.find(marker='pair-run').click()  # replay both through the same events path
    await until(lambda: len(one(user, 'pair-bpc-chart').options['series'][0]['data']) == len(bpc['series'][0]['data']),
                timeout=120)  # fmt: skip


@pytest.fixture
def prepared(workspace_home: Path, char_data_dir: Path) -> Path:
    """tiny Shakespeare (char) prepared in this test's workspace, as stage 1 leaves it."""
    target = workspace_home / 'data' / 'shakespeare_char'
    shutil.copytree(char_data_dir / 'shakespeare_char', target)
    return target


async def test_real_mode_needs_prepared_data(user: User, text, one) -> None:
    await user.open('/pretraining?lang=en&mode=real')
    assert "dataset 'shakespeare_char' is not prepared in this workspace" in text(user, 'form-error')
    assert not one(user, 'start').enabled


async def test_real_training_streams_stops_and_resumes(prepared: Path, user: User, until, text, one, found) -> None:
    await user.open('/pretraining?lang=en&mode=real')
    tiny = {'n_layer': 2, 'n_head': 2, 'n_embd': 32, 'block_size': 32, 'batch_size': 4, 'max_iters': 5000,
            'eval_interval': 40, 'eval_iters': 2, 'lr_decay_iters': 5000}  # fmt: skip
    for key, value in tiny.items():
        one(user, f'form-{key}').value = value
    assert text(user, 'form-error') == ''
    user.find(marker='start').click()
    phases = ('Starting the worker process…', 'Loading PyTorch and the lab’s engine…', 'now: ')
    status = 'panel-progress-status'
    await until(lambda: found(user, marker=status) and text(user, status).startswith(phases))  # not 13 s of nothing
    monitor = one(user, 'monitor')
    await until(lambda: len(monitor.curves.train) >= 3, timeout=120)
    seen = len(monitor.curves.train)
    await until(lambda: len(monitor.curves.train) > seen + 20 and monitor.curves.val, timeout=60)  # it keeps coming
    assert text(user, 'monitor-loss-provenance').startswith('live · cpu · train-')
    one(user, 'monitor-loss-bits').value = True  # the same curves in bits per character: char data, loss / ln 2
    chart = one(user, 'monitor-loss-chart').options
    assert chart['yAxis']['name'] == 'bits per character'
    val = next(s for s in chart['series'] if s['name'] == 'val loss')['data']
    assert val and val == [
        [it, pytest.approx(loss / math.log(2), rel=1e-4)] for it, loss in monitor.curves.val[: len(val)]
    ]
    user.find(marker='stop').click()
    await until(lambda: monitor.curves.end is not None, timeout=60)
    assert monitor.curves.end['status'] == 'cancelled'
    await until(lambda: text(user, 'panel-checkpoints').startswith('Checkpoint: runs/train-'))
    stopped = text(user, 'panel-progress-status')  # a stop is a stop, not an error
    assert stopped.startswith('Stopped after') and one(user, 'panel-resume').visible
    assert not found(user, marker='panel-progress-error') or text(user, 'panel-progress-error') == ''
    assert list(one(user, 'past-runs').options)  # the run can now be overlaid on the next one
    last = monitor.curves.train[-1][0]
    run_id = monitor.curves.end and text(user, 'panel-job')
    user.find(marker='panel-resume').click()  # the same run continues from its checkpoint
    await until(lambda: monitor.curves.train and monitor.curves.train[-1][0] > last + 3, timeout=120)
    assert text(user, 'panel-job') == run_id and monitor.curves.train[0][0] >= last - 40  # not from 0 again
    user.find(marker='stop').click()
    await until(lambda: monitor.curves.end is not None, timeout=60)


async def test_a_device_that_is_not_here_is_refused_at_start(
    prepared: Path, user: User, until, text, one, found
) -> None:
    """Since reliability round 2 (07f9631) the job request is checked against this machine's devices: no job starts,
    and the refusal is written under the Start button, naming the device."""
    import torch

    # a device this machine lacks, from the form's choices: CUDA, or on a CUDA machine Apple's MPS (never beside CUDA)
    device, says = ('mps', 'Apple MPS is not available') if torch.cuda.is_available() else ('cuda', 'no CUDA GPU')
    await user.open('/pretraining?lang=en&mode=real')
    one(user, 'form-device').value = device
    one(user, 'form-max_iters').value = 10
    assert text(user, 'form-error') == ''
    user.find(marker='start').click()
    await until(lambda: text(user, 'start-error') != '')
    refused = text(user, 'start-error')
    assert refused.startswith('This did not work: ') and f"device '{device}'" in refused and says in refused
    assert 'choose the device cpu' in refused and '--device' not in refused  # page terms, not a CLI flag
    assert not found(user, marker='panel')  # no job was started: its panel stays hidden
    assert one(user, 'start').enabled  # ready for the next try


async def test_a_failing_job_says_why_on_the_page(prepared: Path, user: User, until, text, one, found) -> None:
    """A job that passes every check at Start and fails in its worker: the dataset lost its val.bin after the page
    checked it (the form looks for train.bin)."""
    await user.open('/pretraining?lang=en&mode=real')
    one(user, 'form-max_iters').value = 10
    (prepared / 'val.bin').unlink()
    user.find(marker='start').click()
    error = 'panel-progress-error'
    await until(lambda: found(user, marker=error) and 'This did not work' in text(user, error), timeout=120)
    assert 'val.bin' in text(user, 'panel-progress-error')
    assert text(user, 'panel-progress-status') == 'Failed.'
    assert text(user, 'start-error') == ''  # the job started: its failure is in the job's panel
    assert one(user, 'start').enabled  # ready for the next try


async def test_the_cpu_recipe_is_explained_with_its_command(user: User, one) -> None:
    await user.open('/pretraining?lang=en')
    assert one(user, 'recipe-command').text == 'nanogpt-lab train config/train_shakespeare_char_cpu.py'
    assert 'Muon' in one(user, 'recipe-muon').text and 'warmup-stable-decay' in one(user, 'recipe-schedule').text
