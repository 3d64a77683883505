"""`nanogpt-lab bench dpo`: from the session's short SFT run, the real DPO steps in miniature, read back."""

from __future__ import annotations

import shutil

import pytest

from nanogpt_lab.config import ConfigError
from nanogpt_lab.tools.bench import dpo as bench


def test_unknown_options_are_refused():
    with pytest.raises(ConfigError, match='bench dpo: unknown option iterations'):
        bench.main(['--iterations=5'])


@pytest.mark.timeout(900)
def test_the_dpo_steps_run_and_report_time_memory_and_accuracy(sft_run, tmp_path, capsys):
    sft, data = sft_run
    chain = tmp_path / 'chain'  # what `bench sft` keeps: base/, sft/, data/
    for name, src in (('base', sft.parent / 'baby'), ('sft', sft), ('data', data)):
        shutil.copytree(src, chain / name)
    code = bench.main([f'--from={chain}', '--threads=1', '--dpo_iters=1', '--prompts=4', '--max_conversations=4'])
    out = capsys.readouterr().out
    assert code == 0
    for step in ('prepare lab-preferences', 'dpo', 'sft (memory baseline)'):
        assert f'| {step} |' in out
    assert '| **all** |' in out and 'style preference' in out and 'peak memory (max RSS)' in out
