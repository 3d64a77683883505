"""Hugging Face GPT-2 folders: logits equal to transformers', every file variant, verification, download paths."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import torch

from nanogpt_lab import workspace
from nanogpt_lab.model import pretrained
from nanogpt_lab.model.pretrained import WeightsError, download_weights, load_pretrained, verify_weights_folder


def _hf_model(activation: str = 'gelu_new', vocab: int = 97, seed: int = 0):
    """A tiny random transformers GPT-2. A wide init makes GELU/LayerNorm/transpose mistakes show in the logits."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        n_layer=2,
        n_head=4,
        n_embd=64,
        n_positions=32,
        vocab_size=vocab,
        activation_function=activation,
        initializer_range=0.3,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # transformers zeroes biases and sets LayerNorm to identity: make them matter too
        for name, p in model.named_parameters():
            if name.endswith('bias') or '.ln_' in name:
                p.add_(torch.randn_like(p) * 0.3)
    return model


def _save(model, folder: Path) -> Path:
    model.save_pretrained(folder)
    return folder


def _logits_match(hf, ours, vocab: int, atol: float = 1e-5) -> float:
    x = torch.randint(0, vocab, (3, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = hf(x).logits
        got, _ = ours.eval()(x, targets=x)  # with targets: logits at every position
    return float((got - want).abs().max())


@pytest.mark.parametrize(('activation', 'gelu'), [('gelu_new', 'tanh'), ('gelu', 'exact')])
def test_safetensors_folder_gives_transformers_logits(tmp_path, activation, gelu):
    hf = _hf_model(activation)
    model = load_pretrained(_save(hf, tmp_path / 'm'))
    assert model.config.gelu == gelu and model.config.block_size == 32 and model.config.bias
    assert _logits_match(hf, model, 97) < 1e-5
    wrong = load_pretrained(tmp_path / 'm')  # the check can fail: the other GELU is visibly off
    for block in wrong.transformer.h:
        block.mlp.gelu.approximate = 'none' if gelu == 'tanh' else 'tanh'
    assert _logits_match(hf, wrong, 97) > 1e-4


def test_pytorch_model_bin_and_openai_tensor_names(tmp_path):
    hf = _hf_model()
    folder = _save(hf, tmp_path / 'bin')
    (folder / 'model.safetensors').unlink()
    # OpenAI's own files: no `transformer.` prefix, causal-mask buffers included, lm_head stored (tied)
    state = {k.removeprefix('transformer.'): v for k, v in hf.state_dict().items()}
    state['h.0.attn.bias'] = torch.tril(torch.ones(1, 1, 32, 32))
    torch.save(state, folder / 'pytorch_model.bin')
    model = load_pretrained(folder)
    assert _logits_match(hf, model, 97) < 1e-5
    assert model.lm_head.weight is model.transformer.wte.weight


def test_bad_folders_are_named(tmp_path):
    folder = _save(_hf_model(), tmp_path / 'm')
    cfg = json.loads((folder / 'config.json').read_text())
    (folder / 'config.json').write_text(json.dumps({**cfg, 'layer_norm_epsilon': 1e-6}))
    with pytest.raises(WeightsError, match='layer_norm_epsilon'):
        load_pretrained(folder)
    (folder / 'config.json').write_text(json.dumps({**cfg, 'activation_function': 'relu'}))
    with pytest.raises(WeightsError, match="activation_function 'relu'"):
        load_pretrained(folder)
    (folder / 'config.json').write_text(json.dumps({**cfg, 'n_layer': 3}))
    with pytest.raises(WeightsError, match='missing: transformer.h.2'):
        load_pretrained(folder)
    with pytest.raises(WeightsError, match='nanogpt-lab download-weights gpt2-medium'):
        load_pretrained('gpt2-medium')
    with pytest.raises(WeightsError, match='neither a model name'):
        load_pretrained(tmp_path / 'nowhere')


def _truncate_tensor(folder: Path, drop: str | None = None, reshape: str | None = None) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / 'model.safetensors'))
    if drop:
        del state[drop]
    if reshape:
        state[reshape] = state[reshape][:-1].clone()
    save_file(state, str(folder / 'model.safetensors'))


def test_verify_weights_folder(tmp_path):
    good = _save(_hf_model(), tmp_path / 'good')
    assert verify_weights_folder(good)['tensors'] == 2 + 2 * 12 + 2
    missing = _save(_hf_model(), tmp_path / 'missing')
    _truncate_tensor(missing, drop='transformer.h.1.mlp.c_fc.weight')
    with pytest.raises(WeightsError, match=r'missing: h\.1\.mlp\.c_fc\.weight'):
        verify_weights_folder(missing)
    shaped = _save(_hf_model(), tmp_path / 'shaped')
    _truncate_tensor(shaped, reshape='transformer.wpe.weight')
    with pytest.raises(WeightsError, match=r'wrong shape: wpe\.weight \(31, 64\) \(want \(32, 64\)\)'):
        verify_weights_folder(shaped)
    cut = _save(_hf_model(), tmp_path / 'cut')
    data = (cut / 'model.safetensors').read_bytes()
    (cut / 'model.safetensors').write_bytes(data[: len(data) - 100])
    with pytest.raises(WeightsError, match='incomplete'):
        verify_weights_folder(cut)


def test_verify_named_model_checks_its_config(tmp_path):
    folder = workspace.weights_root() / 'gpt2'
    _save(_hf_model(), folder)  # a tiny model placed where gpt2 should be
    with pytest.raises(WeightsError, match=r'not the config of gpt2: n_layer=2 \(want 12\)'):
        verify_weights_folder(folder)
    (folder / 'config.json').unlink()
    with pytest.raises(WeightsError, match='download-weights gpt2` or place the files by hand'):
        verify_weights_folder(folder)


def test_download_offline_fails_fast_with_instructions():
    t0 = time.monotonic()
    with pytest.raises(WeightsError) as e:
        download_weights('gpt2-xl')
    assert time.monotonic() - t0 < 3
    msg = str(e.value)
    assert 'offline' in msg and str(workspace.weights_root() / 'gpt2-xl') in msg and 'model.safetensors' in msg
    with pytest.raises(WeightsError, match='not one of'):
        download_weights('gpt5')


def test_download_offline_says_why_hand_placed_files_fail():
    _save(_hf_model(), workspace.weights_root() / 'gpt2')  # the wrong model placed by hand
    with pytest.raises(WeightsError, match=r'offline.*do not verify: .*not the config of gpt2'):
        download_weights('gpt2')


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def online(monkeypatch):
    """Lift the suite's offline switch for a test that talks to a local server only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', False)
    for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_download_unreachable_hub_fails_fast(online):
    online.setenv('HF_ENDPOINT', f'http://127.0.0.1:{_closed_port()}')
    t0 = time.monotonic()
    with pytest.raises(WeightsError, match='cannot reach the Hugging Face Hub for gpt2.*put both in'):
        download_weights('gpt2')
    assert time.monotonic() - t0 < 5


class _FakeHub(http.server.BaseHTTPRequestHandler):
    """Serves files like the Hub's resolve endpoint (HEAD metadata, GET with Range), recording each Range asked."""

    files: dict[str, bytes] = {}
    ranges: list[str | None] = []

    def _file(self) -> bytes | None:
        return self.files.get(self.path.rsplit('/', 1)[-1])

    def do_HEAD(self):  # noqa: N802 - http.server's naming
        data = self._file()
        self.send_response(200 if data is not None else 404)
        if data is not None:
            self.send_header('ETag', f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header('X-Repo-Commit', 'a' * 40)
            self.send_header('Content-Length', str(len(data)))
        self.end_headers()

    def do_GET(self):  # noqa: N802
        data = self._file() or b''
        rng = self.headers.get('Range')
        self.ranges.append(rng)
        start = int(rng.split('=')[1].split('-')[0]) if rng else 0
        self.send_response(206 if rng else 200)
        self.send_header('Content-Length', str(len(data) - start))
        if rng:
            self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


def test_download_resumes_from_a_partial_file(online, tmp_path):
    payload = bytes(range(256)) * 4000  # ~1 MB
    _FakeHub.files, _FakeHub.ranges = {'model.safetensors': payload}, []
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    online.setenv('HF_ENDPOINT', f'http://127.0.0.1:{server.server_port}')
    folder = tmp_path / 'gpt2'
    folder.mkdir()
    try:
        # an earlier attempt was killed after 300,000 bytes of the same file version
        (folder / 'model.safetensors.part').write_bytes(payload[:300_000])
        etag = hashlib.sha256(payload).hexdigest()
        (folder / 'model.safetensors.part.json').write_text(json.dumps({'etag': etag, 'size': len(payload)}))
        events = []
        pretrained._download_file('gpt2', 'model.safetensors', folder, lambda t, **f: events.append(f), lambda: False)
        assert _FakeHub.ranges == ['bytes=300000-']
        assert (folder / 'model.safetensors').read_bytes() == payload
        assert not (folder / 'model.safetensors.part').exists()
        assert events[0]['done'] == 300_000 and events[-1] == {
            'done': len(payload),
            'total': len(payload),
            'unit': 'B',
            'label': 'gpt2/model.safetensors',
        }
        # a part file from another version of the file is not trusted: start over
        (folder / 'model.safetensors').unlink()
        (folder / 'model.safetensors.part').write_bytes(b'x' * 1000)
        (folder / 'model.safetensors.part.json').write_text(json.dumps({'etag': 'old'}))
        pretrained._download_file('gpt2', 'model.safetensors', folder, lambda t, **f: None, lambda: False)
        assert _FakeHub.ranges[-1] is None and (folder / 'model.safetensors').read_bytes() == payload
    finally:
        server.shutdown()


def test_a_hanging_dns_lookup_is_cut_short(monkeypatch):
    monkeypatch.setattr(pretrained.socket, 'getaddrinfo', lambda *a: time.sleep(3))
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match='looking up huggingface.co'):
        pretrained._resolve('huggingface.co', 0.2)
    assert time.monotonic() - t0 < 1
