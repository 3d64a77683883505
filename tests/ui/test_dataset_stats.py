"""Stage 1's statistics come from the workspace (live) or from the simulation's recordings (simulated)."""

from __future__ import annotations

from nanogpt_lab.config import DataConfig
from nanogpt_lab.data import prepare
from nanogpt_lab.ui import dataset_stats
from nanogpt_lab.ui.i18n import Translator

TR = Translator('en')


def test_recorded_stats_are_the_golden_numbers() -> None:
    char = dataset_stats.recorded_stats('shakespeare_char')
    bpe = dataset_stats.recorded_stats('shakespeare')
    assert char.stats['tokens'] == {'train': 1_003_854, 'val': 111_540, 'total': 1_115_394}
    assert bpe.stats['tokens']['total'] == 338_025
    assert char.provenance.kind == 'simulated' and 'sim record' in char.provenance.detail
    owt = dataset_stats.recorded_stats('openwebtext')
    assert owt.stand_in_note  # a stand-in must say it is one


def test_real_mode_reads_the_workspace(shakespeare_txt, workspace_home) -> None:
    assert dataset_stats.stats_for('shakespeare_char', True, TR) is None
    prepare(DataConfig(dataset='shakespeare_char', input=str(shakespeare_txt)))
    found = dataset_stats.stats_for('shakespeare_char', True, TR)
    assert found.stats['vocab_size'] == 65 and found.provenance.kind == 'live'
    assert found.provenance.source == 'this machine · data/shakespeare_char'
    pair = dataset_stats.shakespeare_pair(True, TR)  # char from here, BPE recorded: labelled as mixed, never as live
    assert pair is not None and pair[1].kind == 'simulated'
