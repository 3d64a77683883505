"""Stage 5: base sizes and download estimates, the fine-tuning defaults and why, a real fine-tune of a run that stops
itself (early stopping), the recorded replay, and before/after (val loss, samples, surprise heatmaps)."""

from __future__ import annotations

from nicegui.testing import User


def _recorded(name: str) -> bool:
    from nanogpt_lab.simulation import assets

    return any(a.name == name for a in assets.list_assets())


async def test_bases_show_size_and_download_time_and_the_recipe_says_why(user: User, text, one) -> None:
    await user.open('/finetuning?lang=en')
    facts = text(user, 'base-gpt2-facts')
    assert facts == '124,439,808 parameters · download ≈ 498 MB (4 bytes each) · ≈ 0.7 min at 100 Mbit/s'
    assert text(user, 'base-gpt2-xl-facts').startswith('1,557,611,200 parameters · download ≈ 6,230 MB')
    await user.should_see('Why a small, constant learning rate (3e-5')
    assert text(user, 'ft-form-command') == 'nanogpt-lab finetune'  # the defaults are the recipe itself
    assert one(user, 'ft-form-learning_rate').value == 3e-5
    assert one(user, 'ft-form-decay_lr').value is False


async def test_simulation_replays_the_recorded_fine_tune(user: User, until, text, one) -> None:
    assert _recorded('finetune-shakespeare')
    await user.open('/finetuning?lang=en&speed=instant')
    assert text(user, 'before-after-tuned-loss-value')  # the measured comparison is shown at once
    assert 'data-token' not in text(user, 'before-after-tuned-sample')
    user.find(marker='ft-start').click()
    monitor = one(user, 'ft-monitor')
    await until(lambda: monitor.curves.end is not None, timeout=120)
    assert monitor.curves.best is not None
    await user.should_see('The run stopped by itself')


async def _settings(user: User, one, text, **values: object) -> None:
    for key, value in values.items():
        one(user, f'ft-form-{key}').value = value
    assert text(user, 'ft-form-error') == ''


# a learning rate far too big for a fine-tune: val loss only gets worse than the base's
TOO_BIG = {'learning_rate': 0.02, 'max_iters': 400, 'eval_interval': 4, 'eval_iters': 2, 'batch_size': 4,
           'gradient_accumulation_steps': 1, 'device': 'cpu'}  # fmt: skip


async def test_real_fine_tune_stops_itself_when_patience_runs_out(baby_run: str, user: User, until, text, one) -> None:
    await user.open(f'/finetuning?lang=en&mode=real&base=run:{baby_run}')
    assert text(user, 'base-chosen') == 'Base model: your run baby'
    assert one(user, 'ft-form-dataset').value == 'shakespeare_char' and one(user, 'ft-form-block_size').value == 64
    await _settings(user, one, text, **TOO_BIG, early_stopping_patience=2)
    assert '--init_from=baby' in text(user, 'ft-form-command')
    user.find(marker='ft-start').click()
    monitor = one(user, 'ft-monitor')
    await until(lambda: monitor.curves.end is not None, timeout=120)
    assert monitor.curves.end['status'] == 'succeeded' and len(monitor.curves.val) == 3  # iters 0, 4, 8: stop
    await user.should_see('The run stopped by itself — early stopping: val loss has not improved for 2 evaluations')
    assert monitor.curves.best[0] == 0  # the best point (marked) is the base model itself: nothing was saved
    assert text(user, 'ft-panel-checkpoints') == 'No checkpoint written yet.'
    await user.open(f'/finetuning?lang=en&mode=real&base=run:{baby_run}')  # a reload brings the finished run back
    monitor = one(user, 'ft-monitor')
    assert len(monitor.curves.val) == 3 and monitor.curves.end['status'] == 'succeeded'
    assert text(user, 'ft-last-run').startswith('Your latest fine-tune, finetune-')
    assert one(user, 'ft-monitor-loss-chart').options['series'][-1]['data']  # val points drawn, not a blank chart


async def test_weights_never_downloaded_cannot_be_a_base_and_say_why(user: User, text, one) -> None:
    await user.open('/finetuning?lang=zh-CN&mode=real')
    assert not one(user, 'use-gpt2').enabled
    assert text(user, 'use-gpt2-why').startswith('请先下载这些权重')


async def test_before_a_replay_the_chart_shows_the_recording(user: User, one) -> None:
    await user.open('/finetuning?lang=en')
    options = one(user, 'ft-monitor-loss-chart').options
    ghost = options['series'][0]
    assert ghost['name'] == 'finetune-shakespeare (recorded)' and len(ghost['data']) > 10
    assert options['xAxis']['max'] >= ghost['data'][-1][0]  # the axis spans the recorded run


async def test_stopped_fine_tune_compared_with_its_base(baby_run: str, user: User, until, text, one, found) -> None:
    await user.open(f'/finetuning?lang=en&mode=real&base=run:{baby_run}')
    await _settings(user, one, text, **TOO_BIG, early_stopping_patience=0)
    user.find(marker='ft-start').click()
    monitor = one(user, 'ft-monitor')
    await until(lambda: len(monitor.curves.val) >= 2, timeout=120)
    user.find(marker='ft-stop').click()  # a stop saves where the run is, so there is a model to compare
    await until(lambda: monitor.curves.end is not None, timeout=60)
    await until(lambda: bool(one(user, 'compare-run').value))
    user.find(marker='compare-measure').click()
    await until(lambda: found(user, marker='before-after-tuned-loss-value'), timeout=120)
    base, tuned = (float(text(user, f'before-after-{m}-loss-value')) for m in ('base', 'tuned'))
    assert tuned > base  # this fine-tune made the model worse, and the comparison says so
    assert text(user, 'before-after-base-sample').startswith('ROMEO:')
    heatmap = one(user, 'before-after-tuned-surprise').content
    assert heatmap.count('<span') > 50 and 'nats' in heatmap
