"""The shipped simulation assets: every one listed, complete provenance, intact files, loadable by the UI."""

from __future__ import annotations

import json
import re

import pytest

from nanogpt_lab.simulation import assets
from nanogpt_lab.simulation.provenance import file_record
from nanogpt_lab.simulation.recipes import RECIPES

REQUIRED = ('command', 'commit', 'dirty', 'torch', 'device', 'device_name', 'threads', 'date', 'wall_time_s')


def test_every_recipe_is_recorded_and_the_manifest_lists_exactly_the_asset_folders() -> None:
    listed = [a.name for a in assets.list_assets()]
    folders = sorted(p.parent.name for p in assets.ASSETS_DIR.glob(f'*/{assets.PROVENANCE}'))
    assert sorted(listed) == folders
    assert listed == [name for name in RECIPES if name in listed], 'manifest in recipe order'
    missing = [name for name in RECIPES if name not in listed]
    assert not missing, f'not recorded yet: {missing} (nanogpt-lab sim record NAME)'


@pytest.mark.parametrize('info', assets.list_assets(), ids=lambda a: a.name)
def test_provenance_is_complete_and_files_are_intact(info: assets.AssetInfo) -> None:
    p = assets.load_provenance(info.name)
    assert not [k for k in REQUIRED if p.get(k) in (None, '')], f'{info.name} lacks some of {REQUIRED}'
    assert re.fullmatch(r'[0-9a-f]{40}', p['commit']) and isinstance(p['dirty'], bool)
    assert p['command'].startswith('nanogpt-lab sim record') and p['regenerate'].startswith('nanogpt-lab sim record')
    assert p['name'] == info.name and p['kind'] == info.kind and p['wall_time_s'] >= 0 and p['threads'] >= 1
    assert p['files'], 'an asset with no files'
    for name, recorded in p['files'].items():
        assert file_record(info.path / name) == recorded, f'{info.name}/{name} changed since it was recorded'


@pytest.mark.parametrize('info', assets.list_assets(kind='run'), ids=lambda a: a.name)
def test_recorded_runs_have_what_the_charts_need(info: assets.AssetInfo) -> None:
    events = assets.load_events(info.name)
    types = [e['type'] for e in events]
    assert types[0] == 'start' and types[-1] == 'end' and events[-1]['status'] == 'succeeded'
    assert [e['seq'] for e in events] == list(range(1, len(events) + 1))
    assert {'train', 'eval', 'sample'} <= set(types)
    train = [e for e in events if e['type'] == 'train']
    assert all(e.get('grad_norm') is not None for e in train), 'grad_norm: the stage-4 LN comparison shows it'
    assert assets.load_provenance(info.name)['config'] == events[0]['config']


def test_curves_are_the_recorded_numbers() -> None:
    c = assets.curves('ln-post-16-layers')
    train = assets.load_events('ln-post-16-layers', ('train',))
    assert c['iter'] == [e['iter'] for e in train] and c['grad_norm'] == [e['grad_norm'] for e in train]
    assert len(c['eval_iter']) == len(c['val_loss']) == len(assets.load_events('ln-post-16-layers', ('eval',)))


def test_chart_label_names_the_asset_date_and_device() -> None:
    info = assets.list_assets()[0]
    label = assets.chart_label(info.name)
    assert label == f'simulated: {info.name} recorded {info.date} on {info.device}'
    assert assets.chart_label(info.name, template='模拟：{asset}（{date}，{device}）').startswith('模拟：')


def test_dataset_stats_for_stage_one() -> None:
    char, char_prov = assets.dataset_stats('shakespeare_char')
    bpe, _ = assets.dataset_stats('shakespeare')
    # DESIGN §3's golden numbers, and stage 2's size consequence: 1,115,394 characters vs 338,025 GPT-2 tokens
    assert (char['vocab_size'], char['tokens']['train'], char['tokens']['val']) == (65, 1_003_854, 111_540)
    assert (bpe['tokens']['train'], bpe['tokens']['val'], bpe['tokens']['total']) == (301_966, 36_059, 338_025)
    assert char['tokens']['total'] == bpe['characters'] == 1_115_394
    assert char_prov['asset'] == 'dataset-shakespeare_char' and char_prov['command']
    owt, owt_prov = assets.dataset_stats('openwebtext')
    assert owt_prov['stand_in_for'] == 'openwebtext' and 'State of the Union' in owt_prov['title']
    assert owt['documents'] == 92 and owt['tokenizer'] == 'gpt2'


def test_unknown_names_get_a_message_that_lists_what_exists() -> None:
    with pytest.raises(assets.AssetError, match="no simulation asset named 'nope'.*baby-char-2000"):
        assets.load_provenance('nope')
    with pytest.raises(assets.AssetError, match='custom'):
        assets.dataset_stats('custom')
    with pytest.raises(assets.AssetError, match='no recorded events'):
        assets.load_events('dataset-shakespeare')


def test_bundled_model_is_small_and_in_hugging_face_char_layout() -> None:
    folder = assets.get_asset('tiny-shakespeare-char').path
    assert (folder / 'model.safetensors').stat().st_size <= 5 * 2**20
    assert json.loads((folder / 'config.json').read_text())['model_type'] == 'gpt2'
    chars = json.loads((folder / 'char_vocab.json').read_text())['chars']
    assert len(chars) == 65 and chars == sorted(chars)


def test_assets_stay_small() -> None:
    # the two bundled models take 7.5 MiB of it: the tiny model (float32) and the chat model (float16, stage 7)
    total = sum(p.stat().st_size for p in assets.ASSETS_DIR.rglob('*') if p.is_file())
    assert total < 10 * 2**20, f'simulation assets take {total / 2**20:.1f} MiB'


def test_importing_the_loader_does_not_load_torch() -> None:
    import subprocess
    import sys

    code = 'import sys, nanogpt_lab.simulation.assets, nanogpt_lab.simulation.replay, nanogpt_lab.simulation.scaling;'
    code += 'assert "torch" not in sys.modules'
    subprocess.run([sys.executable, '-c', code], check=True)


def test_every_recorded_log_line_and_stop_reason_has_a_code_pages_can_translate() -> None:
    from nanogpt_lab.messages import catalog, render

    for info in assets.list_assets():
        if info.kind == 'dataset':
            continue
        for event in assets.load_events(info.name, types=('log', 'end')):
            coded = event if event['type'] == 'log' else {'code': (event.get('summary') or {}).get('reason_code')}
            if event['type'] == 'end' and not (event.get('summary') or {}).get('reason'):
                continue
            assert coded.get('code') in catalog('zh-CN'), (info.name, event)
            if event['type'] == 'log':  # the English the code renders is the line as it was recorded
                assert render(event['code'], event['params']) == event['message']
