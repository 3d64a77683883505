"""SFT with real training: masked targets, a chat run nanoGPT's sample.py reads, resume, stop, refusals, GPT-2 bases."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.packed import pack
from nanogpt_lab.alignment.sft import ConversationBatches, SFTData, sft
from nanogpt_lab.alignment.template import chat_tokenizer_for, load_chat
from nanogpt_lab.events import Cancelled
from nanogpt_lab.model.checkpoint import CKPT_KEYS, load_checkpoint
from nanogpt_lab.tokenizers import CharTokenizer, read_meta

from ..conftest import Events
from .conftest import nanogpt_sample


def test_sft_writes_a_chat_run_with_nanogpts_keys(sft_cfg, data_dir, tmp_path):
    events = Events()
    summary = sft(sft_cfg(eval_sample_tokens=8), events)
    run = tmp_path / 'sft'
    ckpt = load_checkpoint(run)
    assert set(CKPT_KEYS) <= set(ckpt)
    tok = load_chat(run)
    assert tok.kind == 'char' and tok.special_ids['<|system|>'] == 65
    assert ckpt['model_args']['vocab_size'] == tok.vocab_size > 65 + 4  # digits and Chinese were added
    # the checkpoint names the packed folder, whose meta.pkl (and the run's copy) decodes every id
    packed = data_dir / ckpt['config']['dataset']
    assert packed.name.startswith('lab-tasks.char-') and ckpt['config']['data_dir'] == str(data_dir)
    for meta in (read_meta(packed / 'meta.pkl'), read_meta(run / 'meta.pkl')):
        assert [meta['itos'][i] for i in range(tok.vocab_size)] == [tok.decode([i]) for i in range(tok.vocab_size)]
    assert [e['iter'] for e in events.of('eval')] == [0, 3, 6] and summary['iter_num'] == 6
    assert any(e.get('code') == 'log.alignment_engine.added_chars' for e in events.of('log'))
    stats = [e['params'] for e in events.of('log') if e.get('code') == 'log.alignment_engine.split_stats']
    assert {s['split'] for s in stats} == {'train', 'val'} and all(s['too_long'] == 0 for s in stats)
    assert events.of('eval')[-1]['val_loss'] < events.of('eval')[0]['val_loss']
    samples = events.of('sample')  # the greedy answer to a held-out question at each evaluation
    assert len(samples) == 3 and all(e['text'].startswith('<|') and '<|assistant|>' in e['text'] for e in samples)


def test_batches_train_only_the_masked_answers_and_mix_the_kinds(data_dir, baby_run):
    base = CharTokenizer.from_meta(read_meta(baby_run / 'meta.pkl'))
    from nanogpt_lab.alignment.packed import needed_chars

    tok = chat_tokenizer_for(base, needed_chars(data_dir / 'lab-tasks'))
    packed = pack(data_dir / 'lab-tasks', tok)
    batches = ConversationBatches(SFTData(packed, tok, None, 65), 64, 64, 'cpu', seed=0)
    x, y = batches.draw('train')
    assert x.shape == y.shape and x.shape[1] <= 64
    for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
        text = tok.decode(row_x)
        start = text.index('<|assistant|>')
        trained = ''.join(tok.decode([t]) for t in row_y if t != -1)
        answer = text[start + len('<|assistant|>') :].split('<|end|>')[0]
        assert trained == answer + '<|end|>'  # exactly the answer and its end token
    kinds = {packed.kind_names[k] for k in packed.kinds('train')}
    assert len(kinds) == 7


def test_resume_continues_as_if_never_stopped(sft_cfg, tmp_path):
    straight = Events()
    sft(sft_cfg(max_iters=8, eval_interval=4, out_dir=str(tmp_path / 'a'), always_save_checkpoint=True), straight)
    first, second = Events(), Events()
    sft(sft_cfg(max_iters=4, eval_interval=4, out_dir=str(tmp_path / 'b'), always_save_checkpoint=True), first)
    sft(sft_cfg(init_from='resume', max_iters=8, out_dir=str(tmp_path / 'b')), second)
    assert [e['loss'] for e in second.of('train')] == [e['loss'] for e in straight.of('train')[4:]]
    assert second.of('eval')[-1]['val_loss'] == straight.of('eval')[-1]['val_loss']


def test_a_stop_saves_a_checkpoint_to_resume_from(sft_cfg, tmp_path):
    calls = iter(range(100))
    with pytest.raises(Cancelled) as e:
        sft(sft_cfg(max_iters=50), should_stop=lambda: next(calls) >= 3)
    assert 'stopped at iteration 3' in str(e.value)
    assert load_checkpoint(tmp_path / 'sft')['iter_num'] == 3


def test_nanogpts_sample_py_samples_the_sft_checkpoint(sft_cfg, data_dir, nanogpt_ref, tmp_path):
    sft(sft_cfg(max_iters=2, eval_interval=2))
    out = nanogpt_sample(nanogpt_ref, tmp_path / 'sft', data_dir, tmp_path)
    assert 'Loading meta from data/lab-tasks.char-' in out and 'ROMEO:' in out


def test_a_base_whose_tokenizer_cannot_be_identified_is_refused(sft_cfg, tmp_path):
    from nanogpt_lab.config import ModelConfig
    from nanogpt_lab.model.checkpoint import save_checkpoint
    from nanogpt_lab.model.gpt import GPT

    odd = tmp_path / 'odd'
    odd.mkdir()
    model = GPT(ModelConfig(n_layer=1, n_head=1, n_embd=8, block_size=64, vocab_size=300))
    save_checkpoint(odd, model=model, optimizer=None, model_args=model.config, iter_num=0, best_val_loss=9.0,
                    config={'dataset': 'somewhere_else'})  # fmt: skip
    with pytest.raises(AlignmentError) as e:
        sft(sft_cfg(init_from=str(odd)))
    assert e.value.code == 'alignment_engine.unknown_base' and 'meta.pkl' in str(e.value)
    assert not (tmp_path / 'sft' / 'ckpt.pt').exists()


def test_conversations_that_never_fit_are_refused(sft_cfg, data_dir, tmp_path):
    from nanogpt_lab.alignment.conversations import write_conversations

    long = [{'messages': [{'role': 'user', 'content': 'tell me ' * 12}, {'role': 'assistant', 'content': 'no'}]}]
    write_conversations(data_dir / 'long', {'train': long, 'val': long}, {'kind': 'test'})
    with pytest.raises(AlignmentError) as e:
        sft(sft_cfg(dataset='long'))
    assert e.value.code == 'alignment_engine.all_too_long'
    assert sorted(p.name for p in data_dir.iterdir()) == ['lab-tasks', 'long']


def test_a_hugging_face_gpt2_grows_to_nanogpts_padded_rows(sft_cfg, data_dir, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=64, vocab_size=50257)
    GPT2LMHeadModel(cfg).save_pretrained(tmp_path / 'hf')
    sft(sft_cfg(init_from=str(tmp_path / 'hf'), max_iters=1, eval_interval=1, batch_size=2))
    ckpt = load_checkpoint(tmp_path / 'sft')
    tok = load_chat(tmp_path / 'sft')
    assert tok.kind == 'gpt2' and tok.end_id == 50260
    assert ckpt['model_args']['vocab_size'] == 50304 and ckpt['config']['dataset'].startswith('lab-tasks.gpt2-')


@pytest.mark.timeout(400)
def test_sft_under_torchrun_keeps_the_ranks_identical(baby_run, data_dir, tmp_path):
    from ..training.test_ddp import PROBE

    probe = tmp_path / 'probe'
    (probe / 'path').mkdir(parents=True)
    (probe / 'path' / 'sitecustomize.py').write_text(PROBE)
    env = {**os.environ, 'DDP_PROBE_DIR': str(probe), 'OMP_NUM_THREADS': '1',
           'PYTHONPATH': os.pathsep.join([str(probe / 'path'), os.environ.get('PYTHONPATH', '')])}  # fmt: skip
    env.pop('PYTEST_CURRENT_TEST', None)
    cmd = [sys.executable, '-m', 'nanogpt_lab.cli', 'sft', '--nproc_per_node=2', f'--init_from={baby_run}',
           '--dataset=lab-tasks', f'--data_dir={data_dir}', f'--out_dir={tmp_path / "ddp"}', '--device=cpu',
           '--compile=False', '--batch_size=4', '--gradient_accumulation_steps=2', '--max_iters=4',
           '--eval_interval=4', '--eval_iters=1', '--always_save_checkpoint=True']  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=380)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = ((probe / f'rank{r}.txt').read_text().split() for r in (0, 1))
    assert len(rank0) == 4 and rank0 == rank1  # every step, the same weights on both ranks
    assert load_checkpoint(tmp_path / 'ddp')['iter_num'] == 4 and load_chat(tmp_path / 'ddp') is not None


def test_data_stats_counts_what_sft_packs_without_loading_the_base_weights(sft_cfg, monkeypatch):
    """The page's token count reads only the base's tokenizer and context size (a checkpoint memory-mapped): the
    same folder and figures the run packs, and no weights in the server process."""
    from nanogpt_lab.alignment import sft as sft_module
    from nanogpt_lab.model import checkpoint

    cfg = sft_cfg()
    folder = sft_module._conversations_folder(cfg)
    data = sft_module._fresh_data(cfg, folder)  # what the run does, weights and all
    expected = data.packed.stats(sft_module._block_size(cfg, data.base_model.config))

    def no_weights(*args, **kwargs):
        raise AssertionError('the weights were loaded')

    monkeypatch.setattr(checkpoint, 'model_from_checkpoint', no_weights)
    stats = sft_module.data_stats(cfg)
    assert stats['splits'] == expected and stats['splits']['train']['tokens'] > 0
    assert stats['added_chars'] == ''.join(data.tokenizer.added_chars)
