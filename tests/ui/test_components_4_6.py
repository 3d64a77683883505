"""The components of stages 4–6 as plain functions: curves from events, thinning, overfitting, the commands, the
pipeline's cut lines, the surprise colours, the explainers' pictures."""

from __future__ import annotations

import math

import pytest

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components import config_form, loss_chart, prob_pipeline, real_mode_panel
from nanogpt_lab.ui.components.ddp_explainer import ddp_svg
from nanogpt_lab.ui.components.micro_batches import micro_batch_svg, tokens_per_iter
from nanogpt_lab.ui.components.surprise_heatmap import heat_color, heatmap_html, mean_surprise
from nanogpt_lab.ui.components.training_monitor import eta_seconds, format_eta, memory_text
from nanogpt_lab.ui.i18n import Translator

TR = Translator('en')
LABELS = loss_chart.Labels('train', 'val', 'best', 'uniform {loss}', 'iter', 'loss')


def _run(vals: list[float], trains: list[float]) -> loss_chart.Curves:
    events = [{'type': 'train', 'iter': i, 'max_iters': 100, 'loss': 4 - i / 50, 'dt_ms': 10.0} for i in range(100)]
    events += [
        {'type': 'eval', 'iter': 10 * k, 'val_loss': v, 'train_loss': t, 'saved': k == 1}
        for k, (v, t) in enumerate(zip(vals, trains, strict=True))
    ]
    return loss_chart.from_events(sorted(events, key=lambda e: e['iter']))


def test_curves_collect_points_best_and_checkpoints_from_events() -> None:
    curves = _run([3.0, 2.5, 2.6], [3.0, 2.4, 2.2])
    assert len(curves.train) == 100 and curves.val == [[0, 3.0], [10, 2.5], [20, 2.6]]
    assert curves.best == [10, 2.5] and [e['iter'] for e in curves.checkpoints] == [10]
    assert not curves.add({'type': 'log', 'message': 'hi'}) and curves.add({'type': 'end', 'status': 'succeeded'})
    assert not curves.add({'type': 'train', 'iter': 5, 'loss': float('nan')})  # a non-finite loss is not drawn


def test_overfitting_needs_val_up_twice_while_train_keeps_falling() -> None:
    assert _run([3.0, 2.5, 2.6, 2.7], [3.0, 2.4, 2.2, 2.0]).overfitting()
    assert not _run([3.0, 2.5, 2.6], [3.0, 2.4, 2.2]).overfitting()  # one evaluation is noise
    assert not _run([3.0, 2.5, 2.6, 2.7], [3.0, 2.4, 2.6, 2.8]).overfitting()  # both rising: not overfitting


def test_thinning_keeps_spikes_and_the_newest_point() -> None:
    points = [[i, 1.0] for i in range(5000)]
    points[2345][1] = 50.0
    thin = loss_chart.thin(points, 600)
    assert len(thin) <= 602 and [2345, 50.0] in thin and thin[-1] == [4999, 1.0]
    assert [p[0] for p in thin] == sorted(p[0] for p in thin)


def test_loss_options_always_carry_their_marks() -> None:
    empty = loss_chart.loss_options(loss_chart.Curves(), LABELS)
    train, val = empty['series']
    assert train['markLine']['data'] == [] and val['markPoint']['data'] == []  # present but empty: merge-safe
    full = loss_chart.loss_options(_run([3.0, 2.5], [3.0, 2.4]), LABELS, start_loss=math.log(65), log_scale=True)
    assert full['yAxis']['type'] == 'log'
    assert full['series'][0]['markLine']['data'] == [{'yAxis': 4.1744}]
    assert full['series'][1]['markPoint']['data'][0]['coord'] == [10, 2.5]
    assert (
        full['series'][0]['lineStyle']['color'] == theme.TRAIN and full['series'][1]['lineStyle']['color'] == theme.VAL
    )


@pytest.mark.parametrize(
    ('lang', 'legend'), [('en', 'baby (first 200 of 2,000 iterations)'), ('zh-CN', 'baby（2,000 步中的前 200 步）')]
)
def test_a_longer_ghost_is_clipped_to_the_run_and_the_legend_says_so(lang: str, legend: str) -> None:
    """A 200-iteration run is not squashed into a tenth of a 2,000-iteration reference's width."""
    tr = Translator(lang)
    labels = loss_chart.Labels(*'abcdef', clipped=tr('walk.run.clipped'))
    ghost = loss_chart.Reference('baby', [[i, 4.0] for i in range(0, 2001, 10)])
    options = loss_chart.loss_options(_run([3.0], [3.0]), labels, references=[ghost], span=200)
    assert options['xAxis']['max'] == 200
    assert options['series'][0]['name'] == legend and options['series'][0]['data'][-1][0] == 200


def test_commands_say_only_what_differs_from_nanogpt_defaults() -> None:
    values = config_form.defaults({'dataset': 'shakespeare_char', 'n_layer': 4, 'learning_rate': 1e-3})
    assert config_form.command_line('train', values) == (
        'nanogpt-lab train --dataset=shakespeare_char --n_layer=4 --learning_rate=0.001'
    )
    line = config_form.torchrun_line('train', {**values, 'gradient_accumulation_steps': 8}, 4)
    assert line.startswith('torchrun --standalone --nproc_per_node=4 -m nanogpt_lab.cli train --dataset=')
    preset = config_form.changed({**values, 'model': 'gpt2', 'n_layer': 12})
    assert 'n_layer' not in preset and preset['model'] == 'gpt2'  # a preset fixes the shape
    cfg, error = config_form.check({**values, 'n_head': 5})
    assert cfg is None and error.key == 'n_embd' and 'divisible by n_head (5)' in str(error)
    assert config_form.changed({**values, 'out_dir': '/x'}, None).get('out_dir') is None  # never a path


def _view(raw: list[float], top_k: list[float], renorm: list[float]) -> dict:
    tokens = [{'id': i, 'text': t} for i, t in enumerate([' ', '\n', 'e'])]
    names = prob_pipeline.STAGES
    probs = {'raw': raw, 'repetition_penalty': raw, 'temperature': raw, 'top_k': top_k, 'top_p': top_k}
    probs['renormalised'] = renorm
    stages = [{'name': n, 'probs': probs[n], 'kept': sum(1 for p in probs[n] if p > 0), 'mass': sum(probs[n]),
               'entropy_bits': 1.0} for n in names]  # fmt: skip
    return {'tokens': tokens, 'stages': stages}


def test_pipeline_draws_cut_tokens_as_ghosts_under_a_cut_line() -> None:
    view = _view([0.5, 0.3, 0.2], [0.5, 0.3, 0.0], [0.625, 0.375, 0.0])
    labels = {s: s for s in prob_pipeline.STAGES} | {'panel': '{kept} kept {mass} {bits}'}
    options = prob_pipeline.pipeline_options(view, labels)
    assert len(options['grid']) == 6 and options['title'][3]['subtext'].startswith('2 kept')
    top_k_ghost = next(s for s in options['series'] if s['xAxisIndex'] == 3 and 'markLine' in s)
    assert top_k_ghost['data'] == [0, 0, 0.2] and top_k_ghost['markLine']['data'] == [{'yAxis': 0.3}]
    uncut = prob_pipeline.pipeline_options(_view([0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]), labels)
    assert all(s['markLine']['data'] == [] for s in uncut['series'] if 'markLine' in s)
    assert prob_pipeline.next_token_options(view, {'prob': 'p', 'model': 'm', 'final': 'f'})['xAxis']['data'] == [
        '␣',
        '↵',
        'e',
    ]
    assert prob_pipeline.top_token(view) == ('␣', 0.625)


def test_surprise_colours_and_escaping() -> None:
    assert heat_color(0.0) == 'rgb(255,255,255)' and heat_color(None) == '#e5e7eb'
    assert heat_color(8.0) == heat_color(80.0)  # saturates
    html = heatmap_html([{'text': '<b>', 'surprise': 2.0}, {'text': 'x', 'surprise': None}], TR)
    assert '&lt;b&gt;' in html and 'p = 0.1353' in html and 'no score' in html
    assert mean_surprise([{'surprise': 1.0}, {'surprise': None}, {'surprise': 3.0}]) == 2.0


def test_monitor_numbers_eta_and_memory() -> None:
    curves = _run([3.0], [3.0])
    assert eta_seconds(curves) == 0  # iteration 99 (counted from 0) of 100: all 100 steps done
    curves.last = {'iter': 40, 'max_iters': 100}
    assert eta_seconds(curves) == 0.59 and format_eta(3725, TR) == '1 h 02 min' and format_eta(None, TR) == '—'
    assert memory_text(300 * 1024**2, 'cpu', TR) == '300 MiB (RAM)'
    assert memory_text(3 * 1024**3, 'cuda:0', TR) == '3.00 GiB (GPU)'


def test_panel_log_lines_and_device() -> None:
    line = real_mode_panel.log_line(
        {'type': 'eval', 'iter': 250, 'train_loss': 2.4, 'val_loss': 2.5, 'saved': True}, TR
    )
    assert line.endswith('step 250: train loss 2.4000, val loss 2.5000 · checkpoint saved')
    assert real_mode_panel.log_line({'type': 'train', 'iter': 1}, TR) is None
    assert real_mode_panel.device_of({'type': 'start', 'config': {'device': 'auto'}}) is None
    assert real_mode_panel.device_of({'type': 'end', 'summary': {'device': 'cuda:0'}}) == 'cuda:0'


def test_explainer_pictures() -> None:
    labels = {k: k for k in ('aria', 'micro', 'sum', 'step')} | {'row': '#{i}: {batch}×{block}', 'more': '+{n}'}
    svg = micro_batch_svg(12, 64, 40, labels)
    assert svg.count('class="mb-packet"') == 8 and '+32' in svg and 'prefers-reduced-motion' in svg
    assert tokens_per_iter(12, 1024, 40, 8) == 3_932_160
    ddp = ddp_svg(
        3, 'allreduce', {'aria': 'a', 'shard': 's{k}', 'model': 'm', 'update': 'u', 'allreduce': '{last}/{n}'}
    )
    assert ddp.count('GPU ') == 3 and 'g₂/3' in ddp
