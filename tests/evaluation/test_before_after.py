"""Stage 5's comparison: base and fine-tuned model on the same data, the same prompt and the same seed."""

from __future__ import annotations

import math

import pytest

from nanogpt_lab.evaluation.before_after import compare_models
from nanogpt_lab.training import TrainingError


def test_fine_tuned_model_beats_its_base_on_the_same_windows(tiny, run_train, char_data_dir, tmp_path):
    base, tuned = tmp_path / 'base', tmp_path / 'tuned'
    run_train(tiny(out_dir=str(base), max_iters=4, eval_interval=4))
    run_train(tiny(out_dir=str(tuned), init_from=str(base), max_iters=30, eval_interval=10, learning_rate=1e-2))
    folder = char_data_dir / 'shakespeare_char'
    report = compare_models(
        str(base), str(tuned), folder, prompt='ROMEO:', seed=7, max_new_tokens=30, max_val_tokens=3200
    )
    before, after = report['models']
    assert (before['name'], after['name']) == ('base', 'tuned')
    assert after['val_loss'] < before['val_loss'] and after['perplexity'] < before['perplexity']
    assert before['bits_per_char'] == pytest.approx(before['val_loss'] / math.log(2))  # char data
    assert before['sample'].startswith('ROMEO:') and len(after['sample']) == len('ROMEO:') + 30
    again = compare_models(
        str(base), str(tuned), folder, prompt='ROMEO:', seed=7, max_new_tokens=30, max_val_tokens=3200
    )
    assert [m['sample'] for m in again['models']] == [before['sample'], after['sample']]  # same seed, same text
    assert report['block_size'] == 32


def test_models_of_another_tokenizer_are_refused(tiny, run_train, tmp_path):
    import numpy as np

    run_train(tiny(out_dir=str(tmp_path / 'char'), max_iters=2, eval_interval=2))
    bpe = tmp_path / 'data' / 'bpe'  # no meta.pkl: GPT-2 BPE ids, as nanoGPT assumes
    bpe.mkdir(parents=True)
    for split in ('train', 'val'):
        np.arange(1000, dtype=np.uint16).tofile(bpe / f'{split}.bin')
    with pytest.raises(TrainingError, match='reads char tokens but bpe is tokenized with gpt2'):
        compare_models(str(tmp_path / 'char'), str(tmp_path / 'char'), bpe, max_val_tokens=640)
