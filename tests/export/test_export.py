"""Export: Hugging Face folders that transformers loads with our logits, ONNX graphs onnxruntime runs the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nanogpt_lab.cli import main as cli
from nanogpt_lab.config import ModelConfig
from nanogpt_lab.export import ExportError, export_run
from nanogpt_lab.model.checkpoint import save_checkpoint
from nanogpt_lab.model.gpt import GPT

CHAR = ModelConfig(n_layer=2, n_head=2, n_embd=32, block_size=32, vocab_size=65, bias=False)


def _run(folder: Path, args: ModelConfig, meta_from: Path | None = None, seed: int = 0) -> GPT:
    """A run folder with a checkpoint of a randomly initialised model (and its meta.pkl for char runs)."""
    torch.manual_seed(seed)
    model = GPT(args)
    with torch.no_grad():  # nonzero biases and gains, so a wrong mapping cannot hide behind init values
        for name, p in model.named_parameters():
            if name.endswith('bias') or 'ln' in name:
                p.add_(0.1 * torch.randn_like(p))
    save_checkpoint(folder, model=model, optimizer=None, model_args=args, iter_num=7, best_val_loss=2.5,
                    config={'dataset': 'shakespeare_char' if meta_from else 'openwebtext'})  # fmt: skip
    if meta_from:
        shutil.copyfile(meta_from / 'shakespeare_char' / 'meta.pkl', folder / 'meta.pkl')
    return model.eval()


def _snippet_samples(folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> str:
    """Run what a learner copies from the export panel (and the folder's README says); return what it printed."""
    from nanogpt_lab.export import usage

    monkeypatch.setattr(usage, 'NEW_TOKENS', 5)
    snippet = usage.folder_snippet(folder)
    assert json.dumps(str(folder)) in snippet
    capsys.readouterr()
    exec(compile(snippet, 'snippet', 'exec'), {})  # noqa: S102 - our own snippet, the point of the test
    printed = capsys.readouterr().out.rstrip('\n')
    assert printed.startswith('ROMEO:') and len(printed) > len('ROMEO:')  # the prompt and what the model added
    return snippet


def _ours(model: GPT, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids, ids)[0]  # with targets the model returns every position's logits


@pytest.mark.parametrize('args', [CHAR, CHAR.model_copy(update={'bias': True, 'gelu': 'tanh'})], ids=['nobias', 'tanh'])
def test_char_run_loads_in_transformers_with_equal_logits(args, char_data_dir, tmp_path, monkeypatch, capsys):
    from transformers import GPT2LMHeadModel

    model = _run(tmp_path / 'run', args, meta_from=char_data_dir)
    out = export_run(tmp_path / 'run', tmp_path / 'hf')
    hf = GPT2LMHeadModel.from_pretrained(out).eval()
    ids = torch.randint(0, 65, (3, 32))
    with torch.no_grad():
        theirs = hf(ids).logits
    torch.testing.assert_close(theirs, _ours(model, ids), atol=1e-5, rtol=0)
    config = json.loads((out / 'config.json').read_text())
    assert config['activation_function'] == {'exact': 'gelu', 'tanh': 'gelu_new'}[args.gelu]
    chars = json.loads((out / 'char_vocab.json').read_text(encoding='utf-8'))['chars']
    assert len(chars) == 65 and chars[:3] == ['\n', ' ', '!']
    assert 'char_vocab.json' in (out / 'README.md').read_text()
    provenance = json.loads((out / 'provenance.json').read_text())
    assert provenance['iter_num'] == 7 and provenance['tokenizer'] == 'char'
    from nanogpt_lab.model.pretrained import load_pretrained  # and the lab reads its own export back

    torch.testing.assert_close(_ours(load_pretrained(out).eval(), ids), _ours(model, ids), atol=1e-6, rtol=0)
    assert 'GPT2LMHeadModel' in _snippet_samples(out, monkeypatch, capsys)


def test_bpe_run_exports_unpadded_vocab_and_gpt2_tokenizer(tmp_path, shared_data):
    from transformers import AutoTokenizer, GPT2LMHeadModel

    from nanogpt_lab.tokenizers import GPT2Tokenizer

    args = ModelConfig(n_layer=1, n_head=2, n_embd=32, block_size=16, vocab_size=50304, bias=False)
    model = _run(tmp_path / 'run', args)
    out = export_run(tmp_path / 'run', tmp_path / 'hf')
    assert json.loads((out / 'vocab.json').read_text()) == json.loads(
        (shared_data / 'gpt2' / 'encoder.json').read_text()
    )
    assert (out / 'merges.txt').read_text().split('\n')[:-1] == (shared_data / 'gpt2' / 'vocab.bpe').read_text(
        encoding='utf-8').split('\n')[:-1]  # fmt: skip
    hf = GPT2LMHeadModel.from_pretrained(out).eval()
    assert hf.config.vocab_size == 50257  # the 47 padding rows nanoGPT adds are left out, and said so
    assert 'padding rows' in json.loads((out / 'provenance.json').read_text())['vocab_note']
    text = 'First Citizen:\nBefore we proceed any further, hear me speak. 😀'
    ids = GPT2Tokenizer().encode(text)
    assert AutoTokenizer.from_pretrained(out)(text)['input_ids'] == ids
    x = torch.tensor([ids[:16]])
    with torch.no_grad():
        theirs = hf(x).logits
    torch.testing.assert_close(theirs, _ours(model, x)[..., :50257], atol=1e-5, rtol=0)


@pytest.mark.parametrize('kind', ['bpe', 'unigram'])
def test_a_trained_tokenizer_travels_with_the_export(kind, shakespeare_txt, tmp_path):
    """A run on data with its own trained tokenizer: the export carries that tokenizer, transformers reads the BPE
    one, and the lab samples from the exported folder with it."""
    from nanogpt_lab.tokenizers import BPETokenizer, UnigramTokenizer, tokenizer_for_dataset

    lines = shakespeare_txt.read_text().splitlines(keepends=True)[:3000]
    tok = BPETokenizer.train(lines, 400) if kind == 'bpe' else UnigramTokenizer.train(''.join(lines), 400)
    args = CHAR.model_copy(update={'vocab_size': tok.vocab_size})
    _run(tmp_path / 'run', args)
    tok.save(tmp_path / 'run' / ('tokenizer.json' if kind == 'bpe' else 'tokenizer.model'))  # as the trainer copies it
    out = export_run(tmp_path / 'run', tmp_path / 'hf')
    assert json.loads((out / 'provenance.json').read_text())['tokenizer'] == kind
    text = 'First Citizen: 你好'
    again = tokenizer_for_dataset(out)
    assert again.encode(text) == tok.encode(text)
    if kind == 'bpe':
        from transformers import AutoTokenizer

        assert AutoTokenizer.from_pretrained(out)(text)['input_ids'] == tok.encode(text)
    from nanogpt_lab.config import SampleConfig
    from nanogpt_lab.inference import load

    loaded = load(SampleConfig(init_from=str(out), device='cpu'))
    assert loaded.tokenizer.name == kind and loaded.tokenizer.encode(text) == tok.encode(text)


def test_refusals_and_replacing_an_earlier_export(char_data_dir, tmp_path):
    _run(tmp_path / 'post', CHAR.model_copy(update={'ln_position': 'post'}), meta_from=char_data_dir)
    with pytest.raises(ExportError, match=r'post-LN blocks .* Hugging Face GPT-2 cannot express'):
        export_run(tmp_path / 'post', tmp_path / 'x')
    assert not (tmp_path / 'x').exists() and not list(tmp_path.glob('.x.*'))  # nothing half-written
    _run(tmp_path / 'run', CHAR, meta_from=char_data_dir)
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    with pytest.raises(ExportError, match='already exists and is not an earlier export'):
        export_run(tmp_path / 'run', tmp_path / 'mine')
    first = export_run(tmp_path / 'run', tmp_path / 'hf')
    again = export_run(tmp_path / 'run' / 'ckpt.pt', tmp_path / 'hf')  # an earlier export is replaced
    assert first == again and (again / 'model.safetensors').is_file()
    with pytest.raises(ExportError, match="format 'gguf' is not one of hf, onnx"):
        export_run(tmp_path / 'run', tmp_path / 'y', fmt='gguf')
    (tmp_path / 'run' / 'meta.pkl').unlink()
    with pytest.raises(ExportError, match=r'65-token vocabulary but no meta.pkl'):
        export_run(tmp_path / 'run', tmp_path / 'z')


def test_cli_exports_onnx_that_onnxruntime_runs_like_pytorch(char_data_dir, tmp_path, monkeypatch, capsys):
    import onnxruntime as ort

    model = _run(tmp_path / 'run', CHAR, meta_from=char_data_dir)
    code = cli(['export', f'--out_dir={tmp_path / "run"}', '--format=onnx', f'--to={tmp_path / "onnx"}'])
    assert code == 0 and 'exported to' in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / 'onnx' / 'model.onnx'), providers=['CPUExecutionProvider'])
    for shape in ((1, 1), (4, 5), (2, 32)):  # batch and sequence are dynamic
        ids = torch.randint(0, 65, shape)
        got = session.run(['logits'], {'input_ids': ids.numpy()})[0]
        np.testing.assert_allclose(got, _ours(model, ids).numpy(), atol=1e-4, rtol=0)
    assert (tmp_path / 'onnx' / 'char_vocab.json').is_file()
    assert 'onnxruntime' in _snippet_samples(tmp_path / 'onnx', monkeypatch, capsys)


@pytest.mark.parametrize('earlier', [False, True])
def test_a_folder_that_appears_while_exporting_is_never_replaced(tmp_path, earlier):
    """Someone else's folder (with files) shows up at the destination while the export is written: it is left as it
    was and the export is refused, whether or not an earlier export of ours was there when it started."""
    from nanogpt_lab.export.folder_writer import EXPORT_FORMAT, PROVENANCE, write_folder

    to = tmp_path / 'hf'
    if earlier:
        write_folder(to, lambda tmp: (tmp / PROVENANCE).write_text(json.dumps({'format': EXPORT_FORMAT})))

    def slow_writer(tmp: Path) -> None:
        (tmp / 'config.json').write_text('{}')
        shutil.rmtree(to, ignore_errors=True)
        to.mkdir()
        (to / 'notes.txt').write_text('keep me')  # another program, while the export was being written

    with pytest.raises(ExportError, match='already exists and is not an earlier export'):
        write_folder(to, slow_writer)
    assert [p.name for p in to.iterdir()] == ['notes.txt'] and (to / 'notes.txt').read_text() == 'keep me'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['hf']  # no temporary or set-aside folder left
