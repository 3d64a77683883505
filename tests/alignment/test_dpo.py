"""DPO with real training: preference accuracy rises on its own pairs, the SFT run is untouched, a stop keeps its
checkpoint and resumes, and every bad start is refused with its code."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from nanogpt_lab.alignment.conversations import read_conversations
from nanogpt_lab.alignment.dpo import REFERENCE_FILE, dpo
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.preferences import Pair, write_preferences
from nanogpt_lab.config import DPO_PRESET, ConfigError, DpoConfig, build
from nanogpt_lab.events import Cancelled
from nanogpt_lab.model.checkpoint import load_checkpoint

from ..conftest import Events
from .conftest import QUICK, nanogpt_sample


def _pairs(conversations: list[dict], n: int) -> list[Pair]:
    """The task's answer chosen over a wrong one (the answer of another prompt of the same kind)."""
    out = []
    for conv, other in zip(conversations[:n], conversations[n : 2 * n], strict=True):
        prompt = tuple((m['role'], m['content']) for m in conv['messages'][:-1])
        chosen, rejected = conv['messages'][-1]['content'], other['messages'][-1]['content']
        if chosen.strip() != rejected.strip():
            out.append(Pair(prompt, chosen, rejected, labels={'kind': conv['kind']}))
    return out


@pytest.fixture
def sft_dir(sft_run: tuple[Path, Path]) -> Path:
    """The session's short real SFT run (tests/conftest.py): DPO only reads it."""
    return sft_run[0]


@pytest.fixture
def prefs(data_dir: Path) -> Path:
    """A preference dataset of 24 train and 8 held-out pairs from lab-tasks, in the data folder."""
    folder = data_dir / 'prefs'
    train = _pairs(read_conversations(data_dir / 'lab-tasks', 'train'), 24)
    val = _pairs(read_conversations(data_dir / 'lab-tasks', 'val'), 8)
    write_preferences(folder, {'train': train, 'val': val}, {'kind': 'test'})
    return folder


@pytest.fixture
def dpo_cfg(sft_dir: Path, data_dir: Path, prefs: Path, tmp_path: Path):
    def make(**over) -> DpoConfig:
        values = {**DPO_PRESET, **QUICK, 'init_from': str(sft_dir), 'data_dir': str(data_dir),
                  'dataset': prefs.name, 'out_dir': str(tmp_path / 'dpo'), 'batch_size': 8, **over}  # fmt: skip
        return build(DpoConfig, values)

    return make


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preference_accuracy_rises_on_its_own_pairs(dpo_cfg, sft_dir, tmp_path):
    before = {p.name: _sha(p) for p in sft_dir.iterdir() if p.is_file()}
    events = Events()
    dpo(dpo_cfg(max_iters=30, eval_interval=15, eval_iters=3, learning_rate=1e-3), events)
    evals = events.of('eval')
    assert [e['iter'] for e in evals] == [0, 15, 30]
    first, last = evals[0], evals[-1]
    # π_θ = π_ref at the start: every margin is 0, the loss ln 2, no pair preferred yet
    assert first['train_loss'] == pytest.approx(math.log(2), abs=1e-5) and first['train_preference_accuracy'] == 0
    assert last['train_preference_accuracy'] >= 0.8 and last['train_loss'] < first['train_loss'] - 0.1
    assert last['train_reward_margin'] > 0 and last['train_chosen_logp_drift'] > last['train_rejected_logp_drift']
    train = events.of('train')
    assert {'reward_margin', 'preference_accuracy', 'chosen_logp_drift', 'rejected_logp_drift'} <= set(train[-1])
    run = tmp_path / 'dpo'
    assert (run / 'chat.json').read_text() == (sft_dir / 'chat.json').read_text()
    assert (run / REFERENCE_FILE).is_file() and load_checkpoint(run)['config']['beta'] == DPO_PRESET['beta']
    assert {p.name: _sha(p) for p in sft_dir.iterdir() if p.is_file()} == before  # the SFT run is only read


def test_a_stop_keeps_the_checkpoint_and_resume_goes_on(dpo_cfg, prefs, data_dir, nanogpt_ref, tmp_path):
    steps = iter(range(100))
    with pytest.raises(Cancelled):
        dpo(dpo_cfg(max_iters=8, eval_interval=4), Events(), should_stop=lambda: next(steps) >= 5)
    run = tmp_path / 'dpo'
    assert load_checkpoint(run)['iter_num'] == 5
    # the checkpoint names a folder beside the pairs with the chat vocabulary (nanoGPT's meta.pkl) that names them
    named = load_checkpoint(run)['config']['dataset']
    assert [p.name for p in data_dir.glob(f'{prefs.name}.char-*')] == [named] and not (prefs / 'meta.pkl').exists()
    events = Events()
    summary = dpo(dpo_cfg(init_from='resume', dataset=named, max_iters=8, eval_interval=4), events)
    assert summary['iter_num'] == 8 and events.of('train')[0]['iter'] == 5  # resumed on the pairs it names
    assert load_checkpoint(run)['config']['dataset'] == named
    out = nanogpt_sample(nanogpt_ref, run, data_dir, tmp_path)  # nanoGPT's own sample.py decodes the DPO model
    assert f'Loading meta from data/{named}/meta.pkl' in out and 'ROMEO:' in out
    (run / REFERENCE_FILE).unlink()  # without π_ref's scores a resumed model cannot stand in for π_ref
    with pytest.raises(AlignmentError) as e:
        dpo(dpo_cfg(init_from='resume', max_iters=10), Events())
    assert e.value.code == 'dpo.no_reference'


@pytest.mark.parametrize(
    ('key', 'value', 'code'),
    [('beta', 0, 'config.pydantic.greater_than'), ('beta', -1, 'config.pydantic.greater_than'),
     ('beta', float('nan'), 'config.pydantic.finite_number'), ('beta', float('inf'), 'config.pydantic.finite_number'),
     ('beta', 1e9, 'config.pydantic.less_than_equal'),
     ('rpo_alpha', -0.5, 'config.pydantic.greater_than_equal')],
)  # fmt: skip
def test_beta_must_be_positive_and_finite(key, value, code):
    with pytest.raises(ConfigError) as e:
        build(DpoConfig, {key: value})
    assert e.value.code == code and e.value.key == key and key in str(e.value)


def test_bad_starts_are_refused(dpo_cfg, baby_run, sft_dir, data_dir, tmp_path):
    cases = {
        'dpo.no_chat_template': dict(init_from=str(baby_run)),
        'dpo.out_dir_is_start': dict(out_dir=str(sft_dir)),
        'dpo.not_preferences': dict(dataset='lab-tasks'),
        'dpo.needs_init_from': dict(init_from='scratch'),
        'dpo.nothing_fits': dict(block_size=8),
    }
    for code, over in cases.items():
        with pytest.raises(AlignmentError) as e:
            dpo(dpo_cfg(**over), Events())
        assert e.value.code == code, over
    write_preferences(data_dir / 'empty', {'train': [], 'val': []}, {'kind': 'test'})
    with pytest.raises(AlignmentError) as e:
        dpo(dpo_cfg(dataset='empty'), Events())
    assert e.value.code == 'dpo.no_train_pairs' and "'empty'" in str(e.value)
    assert not (tmp_path / 'dpo' / 'ckpt.pt').exists()


def test_an_exported_chat_model_and_bundled_chat_are_starts(dpo_cfg, sft_dir, tmp_path, monkeypatch):
    """The page's "Train on my choices" starts from the chat's model: an exported SFT folder, or bundled-chat."""
    from nanogpt_lab.export import export_run
    from nanogpt_lab.inference import loader

    folder = export_run(sft_dir, tmp_path / 'exported', 'hf')  # a Hugging Face folder with chat.json
    assert dpo(dpo_cfg(init_from=str(folder), max_iters=1, eval_interval=1, eval_iters=1))['iter_num'] == 1
    monkeypatch.setattr(loader, 'bundled_folder', lambda name: folder)  # bundled-chat's asset is such a folder
    out = tmp_path / 'from-bundled'
    assert dpo(dpo_cfg(init_from='bundled-chat', out_dir=str(out), max_iters=1, eval_interval=1, eval_iters=1))
    assert (out / 'chat.json').read_text() == (sft_dir / 'chat.json').read_text()
