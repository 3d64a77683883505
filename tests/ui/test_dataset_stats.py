"""Stage 1's statistics come from the workspace (live) or from the simulation's recordings (simulated)."""

from __future__ import annotations

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data import prepare
from nanogpt_lab.ui import dataset_stats
from nanogpt_lab.ui.i18n import Translator

TR = Translator('en')


def test_recorded_stats_are_the_golden_numbers() -> None:
    char = dataset_stats.recorded_stats('shakespeare_char', TR)
    bpe = dataset_stats.recorded_stats('shakespeare', TR)
    assert char.stats['tokens'] == {'train': 1_003_854, 'val': 111_540, 'total': 1_115_394}
    assert bpe.stats['tokens']['total'] == 338_025
    assert char.provenance.kind == 'simulated' and 'sim record' in char.provenance.detail
    owt = dataset_stats.recorded_stats('openwebtext', TR)
    assert owt.stand_in_note  # a stand-in must say it is one


def test_recordings_are_described_in_the_pages_language() -> None:
    zh = dataset_stats.recorded_stats('shakespeare_char', Translator('zh-CN')).provenance
    assert '线程' in zh.source and 'threads' not in zh.source and '录制' in zh.detail
    note = dataset_stats.recorded_stats('openwebtext', Translator('zh-CN')).stand_in_note
    assert note.startswith('OpenWebText（约 54 GB')


def test_every_recorded_asset_has_its_title_in_both_languages() -> None:
    from nanogpt_lab.simulation import assets

    for info in assets.list_assets():
        assert TR(f'assets.{info.name}.title') == info.title  # the English is the recording's own title
        assert Translator('zh-CN').has(f'assets.{info.name}.title')
        stand_in = assets.load_provenance(info.name).get('stand_in_for')
        assert not stand_in or TR(f'assets.{info.name}.note') == assets.load_provenance(info.name)['note']


def test_real_mode_reads_the_workspace(shakespeare_txt, workspace_home) -> None:
    assert dataset_stats.stats_for('shakespeare_char', True, TR) is None
    prepare(DataConfig(dataset='shakespeare_char', input=str(shakespeare_txt)))
    found = dataset_stats.stats_for('shakespeare_char', True, TR)
    assert found.stats['vocab_size'] == 65 and found.provenance.kind == 'live'
    assert found.provenance.source == 'this machine · data/shakespeare_char'
    pair = dataset_stats.shakespeare_pair(True, TR)  # char from here, BPE recorded: each half labelled as what it is
    assert pair is not None and pair[1].kind == 'mixed'
    label = pair[1].text(TR)
    assert label.startswith('live · this machine · data/shakespeare_char + simulated · recorded: dataset-shakespeare (')
    assert 'recorded: this machine' not in label  # the walk's "simulated · recorded: this machine"
