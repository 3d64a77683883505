"""GPT-2 weights in Hugging Face layout: load them into our GPT and verify a folder (`data.hub` downloads them).

A weights folder holds `config.json` (a Hugging Face GPT2Config) and `model.safetensors` (or an older
`pytorch_model.bin`). Char-level models (the lab's exports of char runs and the bundled tiny model) use the same
layout plus `char_vocab.json` (`{"chars": [...]}`, index = token id). Hugging Face stores GPT-2's four projection
matrices as Conv1D weights, (in, out), the transpose of nn.Linear's (out, in): they are transposed on load, as
nanoGPT's `from_pretrained` does.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import GPT2_BLOCK_SIZE, GPT2_VOCAB_SIZE, PRESETS, PRETRAINED, ConfigError, ModelConfig, build
from nanogpt_lab.errors import LabError
from nanogpt_lab.messages import ref

log = logging.getLogger(__name__)

CONFIG_FILE = 'config.json'
WEIGHTS_FILE = 'model.safetensors'
LEGACY_WEIGHTS_FILE = 'pytorch_model.bin'
CHAR_VOCAB_FILE = 'char_vocab.json'
HF_REPOS = {name: f'openai-community/{name}' for name in PRETRAINED}  # 'gpt2' etc. redirect here on the Hub
CONV1D_WEIGHTS = ('attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight')
GELU_BY_ACTIVATION = {'gelu_new': 'tanh', 'gelu_pytorch_tanh': 'tanh', 'gelu': 'exact'}
_BUFFERS = re.compile(r'\.attn\.(bias|masked_bias)$')  # causal-mask buffers some GPT-2 files carry


class WeightsError(LabError):
    """Weights are missing, incomplete, for another model, or could not be downloaded; the message says what to do."""


# --- reading a folder ---------------------------------------------------------------------------------------------


def weights_dir(name: str) -> Path:
    """Where `download-weights NAME` puts a model: <workspace>/weights/<name>."""
    return workspace.inside(workspace.weights_root(), name)


def model_path_kind(path: Path) -> str | None:
    """What a model path holds: 'checkpoint' (a .pt file, or a run folder with ckpt.pt: ours or nanoGPT's),
    'hf_folder' (config.json and no ckpt.pt: a Hugging Face layout folder), or None (neither)."""
    if path.is_file() or (path / workspace.CKPT_NAME).is_file():
        return 'checkpoint'
    if path.is_dir() and (path / CONFIG_FILE).is_file():
        return 'hf_folder'
    return None


def resolve_folder(name_or_folder: str | Path) -> Path:
    """A model name (gpt2...) means its workspace folder; anything else is a folder path. It must hold config.json."""
    name = str(name_or_folder)
    if name in PRETRAINED:
        folder = weights_dir(name)
        verify_weights_folder(folder, name)  # downloaded or placed by hand: the right model, complete
        return folder
    folder = Path(name_or_folder).expanduser()
    if not folder.is_dir():
        raise WeightsError('weights.not_name_or_folder', name=name, pretrained=', '.join(PRETRAINED))
    if not (folder / CONFIG_FILE).is_file():
        raise WeightsError('weights.no_config', path=folder, file=CONFIG_FILE)
    return folder


def _weights_file(folder: Path) -> Path | None:
    for name in (WEIGHTS_FILE, LEGACY_WEIGHTS_FILE):
        if (folder / name).is_file():
            return folder / name
    return None


def read_hf_config(folder: Path) -> dict[str, Any]:
    """config.json as a dict, with a clear error when it is not JSON."""
    path = folder / CONFIG_FILE
    try:
        cfg = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError('weights.config_not_json', path=path, reason=e.__class__.__name__) from None
    if not isinstance(cfg, dict):
        raise WeightsError('weights.config_not_object', path=path)
    return cfg


def config_from_hf(hf: Mapping[str, Any], dropout: float | None = None) -> ModelConfig:
    """Our ModelConfig for a Hugging Face GPT2Config, refusing the variants our GPT cannot reproduce exactly."""
    if hf.get('model_type', 'gpt2') != 'gpt2':
        raise WeightsError('weights.model_type', model_type=str(hf.get('model_type')))
    act = hf.get('activation_function', 'gelu_new')
    if act not in GELU_BY_ACTIVATION:
        raise WeightsError('weights.activation', activation=str(act), allowed=', '.join(GELU_BY_ACTIVATION))
    rules = {
        'layer_norm_epsilon': (1e-5, lambda v: abs(float(v) - 1e-5) < 1e-12),
        'scale_attn_weights': (True, lambda v: v is True),
        'scale_attn_by_inverse_layer_idx': (False, lambda v: v is False),
        'tie_word_embeddings': (True, lambda v: v is True),
        'add_cross_attention': (False, lambda v: v is False),
        'n_inner': (None, lambda v: v in (None, 4 * int(hf.get('n_embd', 768)))),
    }
    for key, (default, ok) in rules.items():
        if not ok(hf.get(key, default)):
            raise WeightsError('weights.unsupported_key', key=key, value=repr(hf[key]), default=repr(default))
    values = dict(
        n_layer=hf.get('n_layer', 12),
        n_head=hf.get('n_head', 12),
        n_embd=hf.get('n_embd', 768),
        block_size=hf.get('n_positions', hf.get('n_ctx', GPT2_BLOCK_SIZE)),
        vocab_size=hf.get('vocab_size', GPT2_VOCAB_SIZE),
        bias=True,  # Hugging Face GPT-2 always has biases (an export of a bias-free run writes zeros)
        dropout=0.0 if dropout is None else dropout,
        gelu=GELU_BY_ACTIVATION[act],
    )
    try:
        return build(ModelConfig, values)
    except ConfigError as e:
        raise WeightsError('weights.config_unbuildable', reason=ref(e.code, **e.params)) from None


def hf_tensor_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor a Hugging Face GPT-2 file holds for `cfg`, by its name there (Conv1D weights are (in, out))."""
    C, V, T = cfg.n_embd, cfg.vocab_size, cfg.block_size
    shapes: dict[str, tuple[int, ...]] = {'wte.weight': (V, C), 'wpe.weight': (T, C)}
    per_block = {
        'ln_1.weight': (C,),
        'ln_1.bias': (C,),
        'ln_2.weight': (C,),
        'ln_2.bias': (C,),
        'attn.c_attn.weight': (C, 3 * C),
        'attn.c_attn.bias': (3 * C,),
        'attn.c_proj.weight': (C, C),
        'attn.c_proj.bias': (C,),
        'mlp.c_fc.weight': (C, 4 * C),
        'mlp.c_fc.bias': (4 * C,),
        'mlp.c_proj.weight': (4 * C, C),
        'mlp.c_proj.bias': (C,),
    }
    for i in range(cfg.n_layer):
        shapes.update({f'h.{i}.{k}': v for k, v in per_block.items()})
    shapes.update({'ln_f.weight': (C,), 'ln_f.bias': (C,)})
    return shapes


def _hf_name(key: str) -> str:
    """A file's tensor name without the `transformer.` prefix transformers adds (OpenAI's own files lack it)."""
    return key.removeprefix('transformer.')


def read_state_dict(path: Path) -> dict[str, Any]:
    """All tensors of a safetensors file, or of a pytorch_model.bin loaded with weights_only=True (no code runs)."""
    try:
        if path.suffix == '.safetensors':
            from safetensors.torch import load_file

            return load_file(str(path))
        from nanogpt_lab.model.checkpoint import load_tensors

        state = load_tensors(path)
    except Exception as e:  # safetensors, pickle and zip each raise their own kinds for a broken file
        raise WeightsError('weights.unloadable', path=path, detail=(str(e).splitlines() or [''])[0][:200]) from None
    if not isinstance(state, dict):
        raise WeightsError('weights.not_tensors', path=path)
    return state


def to_lab_state_dict(hf_state: Mapping[str, Any], cfg: ModelConfig) -> dict[str, Any]:
    """Hugging Face GPT-2 tensors renamed to our module's keys, Conv1D weights transposed, lm_head tied to wte."""
    out: dict[str, Any] = {}
    for key, tensor in hf_state.items():
        name = _hf_name(key)
        if _BUFFERS.search(name):
            continue
        if name == 'lm_head.weight':
            continue  # tied: checked against wte below
        if name.endswith(CONV1D_WEIGHTS):
            tensor = tensor.t()
        out[f'transformer.{name}'] = tensor.contiguous()
    head = hf_state.get('lm_head.weight')
    wte = out.get('transformer.wte.weight')
    if head is not None and wte is not None and not bool((head == wte).all()):
        raise WeightsError('weights.untied')
    if wte is not None:
        out['lm_head.weight'] = wte
    return out


def load_pretrained(name_or_folder: str | Path, dropout: float | None = None) -> Any:
    """A GPT with the weights of a Hugging Face layout folder, or of gpt2* from the workspace's weights/ folder."""
    from nanogpt_lab.model.gpt import GPT

    folder = resolve_folder(name_or_folder)
    cfg = config_from_hf(read_hf_config(folder), dropout=dropout)
    path = _weights_file(folder)
    if path is None:
        raise WeightsError('weights.no_weights_file', path=folder, file=WEIGHTS_FILE, legacy=LEGACY_WEIGHTS_FILE)
    state = to_lab_state_dict(read_state_dict(path), cfg)
    model = GPT(cfg)
    mine = model.state_dict()
    missing = sorted(set(mine) - set(state))
    unexpected = sorted(set(state) - set(mine))
    wrong = [
        f'{k} {tuple(state[k].shape)} (want {tuple(mine[k].shape)})'
        for k in mine
        if k in state and tuple(state[k].shape) != tuple(mine[k].shape)
    ]
    if missing or unexpected or wrong:
        raise WeightsError('weights.mismatch', path=path, problems=_key_problems(missing, unexpected, wrong))
    model.load_state_dict(state)
    log.info('loaded %s (%d parameters) from %s', cfg.nanogpt_args(), model.get_num_params(False), path)
    return model


def _key_problems(missing: list[str], unexpected: list[str], wrong: list[str]) -> list[dict]:
    parts = (('missing', missing), ('unexpected', unexpected), ('wrong_shape', wrong))
    return [
        ref(f'checkpoint.keys.{label}', keys=', '.join(k[:3]) + (' ...' if len(k) > 3 else ''))
        for label, k in parts
        if k
    ]


def read_char_vocab(folder: Path) -> list[str] | None:
    """The characters of a char-level folder (`char_vocab.json`, index = token id), or None for a BPE model."""
    path = Path(folder) / CHAR_VOCAB_FILE
    if not path.is_file():
        return None
    try:
        chars = json.loads(path.read_text(encoding='utf-8'))['chars']
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise WeightsError('weights.char_vocab_json', path=path) from None
    if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
        raise WeightsError('weights.char_vocab_chars', path=path)
    return chars


# --- verifying a folder -------------------------------------------------------------------------------------------


def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a safetensors header, after checking the file is as long as the header says."""
    size = path.stat().st_size
    with open(path, 'rb') as f:
        head = f.read(8)
        if len(head) < 8:
            raise WeightsError('weights.truncated', path=path)
        (n,) = struct.unpack('<Q', head)
        if n > min(size - 8, 100_000_000):
            raise WeightsError('weights.not_safetensors', path=path)
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise WeightsError('weights.bad_header', path=path) from None
    header.pop('__metadata__', None)
    end = max((int(t['data_offsets'][1]) for t in header.values()), default=0)
    if 8 + n + end != size:
        raise WeightsError('weights.incomplete_file', path=path, size=size, need=8 + n + end)
    return {k: tuple(t['shape']) for k, t in header.items()}


def _file_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    if path.suffix == '.safetensors':
        return _safetensors_shapes(path)
    return {k: tuple(v.shape) for k, v in read_state_dict(path).items()}


def verify_weights_folder(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """Check a downloaded or hand-placed folder before use: config matches `name`, every tensor present and shaped.

    `name` defaults to the folder's own name when that is a GPT-2 size. Returns a summary; raises WeightsError
    naming the first problem (wrong config keys, missing or mis-shaped tensors, a truncated file).
    """
    folder = Path(path)
    name = name or (folder.name if folder.name in PRETRAINED else None)
    if not (folder / CONFIG_FILE).is_file():
        raise _missing_file(folder, CONFIG_FILE, name)
    hf = read_hf_config(folder)
    if name is not None:
        _check_preset_config(hf, name, folder)
    cfg = config_from_hf(hf)
    file = _weights_file(folder)
    if file is None:
        raise _missing_file(folder, WEIGHTS_FILE, name)
    have = {_hf_name(k): v for k, v in _file_shapes(file).items() if not _BUFFERS.search(_hf_name(k))}
    want = hf_tensor_shapes(cfg)
    missing = [k for k in want if k not in have]
    wrong = [f'{k} {have[k]} (want {want[k]})' for k in want if k in have and have[k] != want[k]]
    if missing or wrong:
        raise WeightsError('weights.incomplete', path=file, problems=_key_problems(missing, [], wrong))
    return {'folder': str(folder), 'file': file.name, 'tensors': len(want), 'config': cfg.nanogpt_args()}


def _check_preset_config(hf: Mapping[str, Any], name: str, folder: Path) -> None:
    if name not in PRESETS:
        raise WeightsError('weights.unknown_model', name=name, pretrained=', '.join(PRETRAINED))
    want = {**PRESETS[name], 'n_positions': GPT2_BLOCK_SIZE, 'vocab_size': GPT2_VOCAB_SIZE}
    bad = [f'{k}={hf.get(k)!r} (want {v})' for k, v in want.items() if hf.get(k) != v]
    if bad:
        raise WeightsError('weights.wrong_config', path=folder / CONFIG_FILE, name=name, bad=', '.join(bad))


# --- placing by hand --------------------------------------------------------------------------------------------------


def _missing_file(folder: Path, file: str, name: str | None) -> WeightsError:
    if name is None:
        return WeightsError('weights.missing_file', path=folder, file=file)
    return WeightsError('weights.missing_file_hint', path=folder, file=file, name=name, by_hand=by_hand(name))


def by_hand(name: str) -> dict:
    """Where to put weights fetched on another machine, for the offline message (a message ref)."""
    repo = HF_REPOS[name]
    return ref('weights.by_hand', config=CONFIG_FILE, weights=WEIGHTS_FILE, repo=repo, folder=str(weights_dir(name)))
