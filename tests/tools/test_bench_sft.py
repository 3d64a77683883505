"""`nanogpt-lab bench sft`: the whole chain for real, in miniature (a 20-step base, 6 SFT steps), read back."""

from __future__ import annotations

import json

import pytest

from nanogpt_lab.config import ConfigError
from nanogpt_lab.tools.bench import sft as bench


def test_unknown_options_are_refused():
    with pytest.raises(ConfigError, match='unknown option iterations'):
        bench.main(['--iterations=5'])


@pytest.mark.timeout(900)
def test_the_chain_runs_and_reports_against_its_targets(shakespeare_txt, tmp_path, capsys):
    recipe = tmp_path / 'tiny.py'
    recipe.write_text(
        "dataset = 'shakespeare_char'\ndevice = 'cpu'\ncompile = False\nn_layer = 1\nn_head = 2\nn_embd = 32\n"
        'block_size = 64\nbatch_size = 8\nmax_iters = 20\neval_interval = 20\neval_iters = 2\ndropout = 0.0\n'
    )
    code = bench.main([f'--input={shakespeare_txt}', f'--recipe={recipe}', '--threads=1', '--sft_iters=6',
                       '--chat_prompts=2', '--max_conversations=14', f'--json={tmp_path / "sft.json"}'])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    for step in ('prepare', 'pretrain', 'prepare lab-tasks', 'sft', 'eval'):
        assert f'| {step} |' in out
    assert '| reverse |' in out and 'held-out exact match' in out and 'time to first token' in out
    assert 'pretrained only' in out
    assert '1 thread(s), set by --threads=1' in out  # each computing step's own choice, read from its log
    assert 'bench sft: ' in out and ' commit ' in out and '- conditions: load average' in out
    found = json.loads((tmp_path / 'sft.json').read_text())  # what tools/gpu_check.sh reads
    assert [r['step'] for r in found['steps']] == ['prepare', 'pretrain', 'prepare lab-tasks', 'sft', 'eval']
    assert found['conversations'] == 14 and set(found['kinds']['reverse']) == {'base', 'sft'}
    assert found['chat']['ttft_ms'] > 0 and found['machine'].startswith('bench sft: ')
