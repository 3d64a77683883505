"""One validated configuration for every layer: nanoGPT's keys, read from files, flags and JSON, never executed.

Configs are built at the edge (CLI, API body, UI form) with `build(...)` and passed down whole. They are frozen:
a change makes a new config (`cfg.model_copy(update=...)` then `validate`).
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from nanogpt_lab import workspace
from nanogpt_lab.errors import LabError
from nanogpt_lab.messages import ref

# GPT-2 presets: the shapes OpenAI released (vocab 50257, 1024 positions, biases on).
PRESETS: dict[str, dict[str, int]] = {
    'gpt2': dict(n_layer=12, n_head=12, n_embd=768),
    'gpt2-medium': dict(n_layer=24, n_head=16, n_embd=1024),
    'gpt2-large': dict(n_layer=36, n_head=20, n_embd=1280),
    'gpt2-xl': dict(n_layer=48, n_head=25, n_embd=1600),
}
PRETRAINED = tuple(PRESETS)
# GPT-1 (Radford et al. 2018, "Improving Language Understanding by Generative Pre-Training"): post-LN blocks
# (LayerNorm after each residual add), learned positions, GELU, biases. `gpt1` is the paper's 12 x 768 x 12 with
# 512 positions: 116.5M parameters with its 40,478-token BPE. `gpt1-mini` is the lab plan's GPT-1 module: about 11M
# (6 x 384 x 6, the shape of nanoGPT's Shakespeare char model) with context 128. The shape is fixed; the context
# (block_size) is a default a flag may change; the vocabulary comes from the data.
GPT1_PRESETS: dict[str, dict[str, Any]] = {
    'gpt1-mini': dict(n_layer=6, n_head=6, n_embd=384, ln_position='post', bias=True, block_size=128),
    'gpt1': dict(n_layer=12, n_head=12, n_embd=768, ln_position='post', bias=True, block_size=512),
}
GPT1_VOCAB_SIZE = 40478  # GPT-1's BPE: 40,000 merges plus its base characters
# Stage 4's GPT-1 vs GPT-2 pair (the plan's table), on one text: GPT-1 post-LN with a SentencePiece unigram
# tokenizer trained on it and context 128; GPT-2 pre-LN with characters and context 256. Everything else (width,
# depth, optimizer, batch) is shared, so their curves in bits per character compare the two designs fairly.
# `data`: the `prepare` settings of each side's dataset; `train`: what each side's `train` sets.
GPT_PAIR: dict[str, dict[str, dict[str, Any]]] = {
    'gpt1': {
        'data': dict(dataset='shakespeare', tokenizer='sentencepiece', vocab_size=2000),
        'train': dict(dataset='shakespeare_sentencepiece', ln_position='post', block_size=128),
    },
    'gpt2': {
        'data': dict(dataset='shakespeare_char'),
        'train': dict(dataset='shakespeare_char', ln_position='pre', block_size=256),
    },
}
GPT2_VOCAB_SIZE = 50257
GPT2_BLOCK_SIZE = 1024
PADDED_VOCAB_SIZE = 50304  # 50257 rounded up to a multiple of 64, as nanoGPT does for speed
DATASETS = ('shakespeare_char', 'shakespeare', 'openwebtext', 'custom', 'tang_poems', 'dialogue')

# --- bounds: the largest value each number may take, refused above it with the key and the bound ---------------
# One place for all of them (docs/reliability.md lists them; tests/reliability/test_bounds.py checks every numeric
# key of every config and API body has one). Each is far above any real run and far below what breaks a device,
# a counter or JSON's 64-bit integers.
MAX_ITERS = 100_000_000  # iterations of any kind (nanoGPT's GPT-2 run: 600,000)
MAX_EVAL_ITERS = 1_000_000  # batches per evaluation (nanoGPT: 200)
MAX_BATCH = 65_536  # sequences per micro-batch
MAX_ACCUMULATION = 65_536  # micro-batches per optimizer step
MAX_BATCH_TOKENS = 1 << 24  # batch_size × block_size: 16.8M tokens per forward pass (GPT-2 small: 12,288)
MAX_STEP_TOKENS = 1 << 30  # × gradient_accumulation_steps: keeps tokens seen within 64 bits at MAX_ITERS
MAX_LAYERS, MAX_HEADS, MAX_EMBD = 256, 256, 32_768  # GPT-3 175B: 96 layers, 96 heads, 12,288 wide
MAX_BLOCK = 65_536  # context length in tokens
MAX_VOCAB = 1_000_000  # tokens in a vocabulary (GPT-2: 50,257)
MAX_LR = 10.0  # learning rates (nanoGPT: 6e-4; anything near 1 already diverges)
MAX_WEIGHT_DECAY = 10.0
MAX_GRAD_CLIP = 1e6
MAX_SEED = 2**32 - 1  # what numpy, torch and Python's random all accept
MAX_PROCS = 64  # processes per node (torchrun)
MAX_THREADS = 1024
MAX_PATIENCE = 1_000_000  # evaluations without improvement
MAX_SAMPLE_TOKENS = 100_000  # tokens per sample
MAX_EVAL_SAMPLE_TOKENS = 4096  # tokens of the sample shown at each evaluation
MAX_SAMPLES = 1000
MAX_TEMPERATURE = MAX_PENALTY = 100.0
MAX_NUM_PROC = 256  # tokenizer processes
MAX_BENCH_REPEATS = 100  # repetitions of a benchmark
MAX_CONVERSATIONS = 100_000  # held-out conversations scored by an evaluation
MAX_PROMPTS = 100_000  # prompts lab-preferences asks the SFT model
MAX_UPLOAD_FILES = 1000  # files in one upload: a zip's entries, or files sent together (the Tang poems: 58)

# Fine-tuning: nanoGPT's config/finetune_shakespeare.py values, plus early stopping. `nanogpt-lab finetune`, the
# finetune job, the stage 5 form and the recorder build on these, so a config file or `--key=value` still wins.
FINETUNE_PRESET: dict[str, Any] = {
    # start from pretrained weights; nanoGPT's example uses gpt2-xl (1.5B), far too big for a CPU lab default
    'init_from': 'gpt2',
    'dataset': 'shakespeare',
    # evaluate often: a fine-tune overfits within a few epochs of a small dataset
    'eval_interval': 5,
    'eval_iters': 40,
    'always_save_checkpoint': False,  # keep only the checkpoint with the best val loss
    # 1 sequence × 32 accumulation steps × 1024 tokens = 32,768 tokens per step (~9 steps per Shakespeare epoch)
    'batch_size': 1,
    'gradient_accumulation_steps': 32,
    'max_iters': 20,
    # a small constant learning rate: nudge the pretrained weights, do not overwrite them
    'learning_rate': 3e-5,
    'decay_lr': False,
    # ours: stop when val loss has not improved for 3 evaluations in a row
    'early_stopping_patience': 3,
}
# `nanogpt-lab sft`: supervised fine-tuning on conversations (docs/alignment.md has the experiments behind each value)
SFT_PRESET: dict[str, Any] = {
    'dataset': 'lab-tasks',
    'batch_size': 32,
    'gradient_accumulation_steps': 1,
    'learning_rate': 2e-3,
    'min_lr': 2e-4,
    'warmup_iters': 50,
    'max_iters': 3000,
    'lr_decay_iters': 3000,
    'weight_decay': 0.0,
    'dropout': 0.0,
    'eval_interval': 500,
    'eval_iters': 20,
    'log_interval': 10,
    'always_save_checkpoint': False,  # keep the checkpoint with the best held-out loss
    'early_stopping_patience': 3,  # held-out loss not better for 3 evaluations in a row: stop
}
# `nanogpt-lab dpo`: preference tuning from an SFT run (docs/alignment.md has the runs behind these values)
DPO_PRESET: dict[str, Any] = {
    'dataset': 'lab-preferences',
    'beta': 0.5,  # the paper uses 0.1-0.5; on bench sft's assistant 0.1 cost answers, 0.5 and 1.0 none (benchmarks.md)
    'batch_size': 16,  # pairs: 32 conversations in one forward pass
    'gradient_accumulation_steps': 1,
    'learning_rate': 3e-5,  # 10x more wrecks a baby model's answers within 150 steps
    'decay_lr': False,
    'max_iters': 150,
    'weight_decay': 0.0,
    'dropout': 0.0,  # π_θ and π_ref must score the same answer the same way: no dropout noise in the log-ratio
    'eval_interval': 50,
    'eval_iters': 10,
    'log_interval': 5,
    'always_save_checkpoint': True,  # keep the last model: a held-out DPO loss that never beats ln 2 would keep none
}
MAX_DPO_WEIGHT = 100.0  # β and RPO's α: past this the loss saturates at once
# The defaults each kind of training run starts from, under config files and flags (plain `train`: nanoGPT's own).
RUN_PRESETS: dict[str, Mapping[str, Any]] = {'finetune': FINETUNE_PRESET, 'sft': SFT_PRESET, 'dpo': DPO_PRESET}


def run_preset(kind: str) -> dict[str, Any]:
    """The defaults `kind` (train, finetune, ...) builds its TrainConfig on: the one place presets are looked up."""
    return dict(RUN_PRESETS.get(kind, {}))


ModelPreset = Literal['custom', 'gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl', 'gpt1-mini', 'gpt1']
Dtype = Literal['auto', 'float32', 'bfloat16', 'float16']
_DEVICE_RE = re.compile(r'^(auto|cpu|mps|cuda(:\d{1,3})?)$')


class ConfigError(LabError):
    """A configuration value a user gave is invalid; its `key` parameter names it so the UI and API can point at it."""

    @property
    def key(self) -> str | None:
        """The config key at fault (None for a file-level problem)."""
        return self.params.get('key')


class _Config(BaseModel):
    # allow_inf_nan=False: every float of every config is finite (NaN passes no bound; a 422 says "finite")
    model_config = ConfigDict(frozen=True, extra='forbid', protected_namespaces=(), allow_inf_nan=False)

    @field_validator('*', mode='before')
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        """JSON's `true` is not a number: pydantic would read it as 1 (`"n_layer": true` would build one layer)."""
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation in _NUMBERS:
            raise ConfigError('config.bool_not_number', key=info.field_name, value=value, json=str(value).lower())
        return value


_NUMBERS = (int, float, int | None, float | None)


def _check_device(value: str) -> str:
    if not _DEVICE_RE.match(value):
        raise ConfigError('config.device', key='device', value=value)
    return value


def _check_heads(n_embd: int, n_head: int) -> None:
    if n_embd % n_head:
        raise ConfigError('config.divisible', key='n_embd', n_embd=n_embd, n_head=n_head)


class ModelConfig(_Config):
    """The shape of a GPT: nanoGPT's `model_args` plus where the LayerNorm sits (GPT-2 pre-LN, GPT-1 post-LN)."""

    n_layer: int = Field(12, gt=0, le=MAX_LAYERS)
    n_head: int = Field(12, gt=0, le=MAX_HEADS)
    n_embd: int = Field(768, gt=0, le=MAX_EMBD)
    block_size: int = Field(1024, gt=0, le=MAX_BLOCK)
    vocab_size: int = Field(PADDED_VOCAB_SIZE, gt=0, le=MAX_VOCAB)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    bias: bool = True
    ln_position: Literal['pre', 'post'] = 'pre'
    gelu: Literal['exact', 'tanh'] = 'exact'  # nanoGPT's nn.GELU() is exact; OpenAI's GPT-2 used the tanh form

    @model_validator(mode='after')
    def _heads_divide_width(self) -> ModelConfig:
        _check_heads(self.n_embd, self.n_head)
        return self

    def nanogpt_args(self) -> dict[str, Any]:
        """`model_args` as nanoGPT writes them: its seven keys, plus ours only where they differ from nanoGPT.

        nanoGPT's sample.py calls `GPTConfig(**model_args)`, so an extra key would stop it loading our checkpoints.
        """
        args = self.model_dump()
        for key, nanogpt_value in (('ln_position', 'pre'), ('gelu', 'exact')):
            if args[key] == nanogpt_value:
                del args[key]
        return args


class TrainConfig(_Config):
    """Everything `nanogpt-lab train` and `finetune` read: nanoGPT's train.py keys and defaults, plus a few of ours."""

    # I/O
    out_dir: str | None = None  # None: a new folder under the workspace's runs/
    eval_interval: int = Field(2000, gt=0, le=MAX_ITERS)
    log_interval: int = Field(1, gt=0, le=MAX_ITERS)
    eval_iters: int = Field(200, gt=0, le=MAX_EVAL_ITERS)
    eval_only: bool = False
    always_save_checkpoint: bool = True
    init_from: str = 'scratch'  # scratch | resume | gpt2* | a folder or ckpt.pt to start from
    # logging
    wandb_log: bool = False
    wandb_project: str = 'owt'
    wandb_run_name: str = 'gpt2'
    tensorboard_log: bool = False
    # data
    dataset: str = 'openwebtext'
    data_dir: str | None = None  # the folder holding <dataset>/; None: the workspace's data/
    gradient_accumulation_steps: int = Field(5 * 8, gt=0, le=MAX_ACCUMULATION)
    batch_size: int = Field(12, gt=0, le=MAX_BATCH)
    block_size: int = Field(1024, gt=0, le=MAX_BLOCK)
    # model
    model: ModelPreset = 'custom'
    n_layer: int = Field(12, gt=0, le=MAX_LAYERS)
    n_head: int = Field(12, gt=0, le=MAX_HEADS)
    n_embd: int = Field(768, gt=0, le=MAX_EMBD)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    bias: bool = False
    ln_position: Literal['pre', 'post'] = 'pre'
    # adamw optimizer
    learning_rate: float = Field(6e-4, gt=0.0, le=MAX_LR)
    max_iters: int = Field(600000, ge=0, le=MAX_ITERS)
    weight_decay: float = Field(1e-1, ge=0.0, le=MAX_WEIGHT_DECAY)
    beta1: float = Field(0.9, ge=0.0, lt=1.0)
    beta2: float = Field(0.95, ge=0.0, lt=1.0)
    grad_clip: float = Field(1.0, ge=0.0, le=MAX_GRAD_CLIP)
    optimizer: Literal['adamw', 'muon'] = 'adamw'  # ours: muon = Muon for the blocks' matrices, AdamW for the rest
    muon_lr: float = Field(0.02, gt=0.0, le=MAX_LR)  # Muon's peak rate (the schedule scales it as learning_rate)
    muon_momentum: float = Field(0.95, ge=0.0, lt=1.0)
    # learning rate schedule
    decay_lr: bool = True
    warmup_iters: int = Field(2000, ge=0, le=MAX_ITERS)
    lr_decay_iters: int = Field(600000, gt=0, le=MAX_ITERS)
    min_lr: float = Field(6e-5, ge=0.0, le=MAX_LR)
    cooldown_iters: int = Field(0, ge=0, le=MAX_ITERS)  # ours: >0 holds the peak, then falls linearly to min_lr (WSD)
    # DDP
    backend: Literal['nccl', 'gloo', 'auto'] = 'auto'
    nproc_per_node: int = Field(1, gt=0, le=MAX_PROCS)
    # system
    device: str = 'auto'
    dtype: Dtype = 'auto'
    compile: bool | Literal['auto'] = 'auto'
    threads: int = Field(0, ge=0, le=MAX_THREADS)  # CPU threads for torch; 0 keeps torch's default
    seed: int = Field(1337, ge=0, le=MAX_SEED)
    # ours
    early_stopping_patience: int = Field(0, ge=0, le=MAX_PATIENCE)  # evals without val improvement, then stop; 0: off
    eval_sample_tokens: int = Field(0, ge=0, le=MAX_EVAL_SAMPLE_TOKENS)  # >0: a `sample` event this long at each eval
    nanogpt_batches: bool = False  # draw batches and eval batches from torch's global stream in nanoGPT's order

    @field_validator('device')
    @classmethod
    def _known_device(cls, v: str) -> str:
        return _check_device(v)

    @field_validator('dataset')
    @classmethod
    def _dataset_is_a_name(cls, v: str) -> str:
        """A folder name under data_dir: refused here, before any run folder is made for it."""
        try:
            return workspace.check_name(v, 'dataset')
        except LabError as e:
            raise ConfigError(e.code, **{**e.params, 'key': 'dataset'}) from None

    @model_validator(mode='before')
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """A named model size fixes the shape, as the plan's `modelSize` does (a GPT-1 preset's context only
        where no block_size is given)."""
        if not isinstance(data, Mapping):
            return data
        model = data.get('model', 'custom')
        if model in PRESETS:
            data = {**data, **PRESETS[model]}
        elif model in GPT1_PRESETS:
            shape = {k: v for k, v in GPT1_PRESETS[model].items() if k != 'block_size'}
            data = {'block_size': GPT1_PRESETS[model]['block_size'], **data, **shape}
        return data

    @model_validator(mode='after')
    def _rules(self) -> TrainConfig:
        _check_heads(self.n_embd, self.n_head)
        if self.batch_size * self.block_size > MAX_BATCH_TOKENS:
            raise ConfigError('config.batch_tokens', key='batch_size', tokens=self.batch_size * self.block_size,
                              max=MAX_BATCH_TOKENS, batch_size=self.batch_size)  # fmt: skip
        if self.tokens_per_iter > MAX_STEP_TOKENS:
            raise ConfigError('config.step_tokens', key='gradient_accumulation_steps', tokens=self.tokens_per_iter,
                              max=MAX_STEP_TOKENS, accumulation=self.gradient_accumulation_steps)  # fmt: skip
        if self.init_from in PRETRAINED and self.block_size > GPT2_BLOCK_SIZE:
            raise ConfigError(
                'config.block_exceeds',
                key='block_size',
                block_size=self.block_size,
                model=self.init_from,
                positions=GPT2_BLOCK_SIZE,
            )
        if self.cooldown_iters > self.lr_decay_iters:
            raise ConfigError(
                'config.cooldown_too_long',
                key='cooldown_iters',
                cooldown_iters=self.cooldown_iters,
                lr_decay_iters=self.lr_decay_iters,
            )
        if self.nproc_per_node > 1 and self.gradient_accumulation_steps % self.nproc_per_node:
            raise ConfigError(
                'config.accumulation_divisible',
                key='gradient_accumulation_steps',
                gradient_accumulation_steps=self.gradient_accumulation_steps,
                nproc_per_node=self.nproc_per_node,
            )
        return self

    def model_args(self, vocab_size: int) -> ModelConfig:
        """The model shape this config asks for, with the vocabulary the data decides."""
        keys = ('n_layer', 'n_head', 'n_embd', 'block_size', 'dropout', 'bias', 'ln_position')
        return ModelConfig(vocab_size=vocab_size, **{k: getattr(self, k) for k in keys})

    @property
    def tokens_per_iter(self) -> int:
        """Tokens in one optimizer step across all processes (batch × block × accumulation)."""
        return self.batch_size * self.block_size * self.gradient_accumulation_steps


class DpoConfig(TrainConfig):
    """What `nanogpt-lab dpo` reads: the training keys, plus β of DPO's loss (eq. 7) and RPO's optional α."""

    # scales the implicit reward β·log π_θ/π_ref: a larger β keeps the model nearer the reference
    beta: float = Field(0.1, gt=0.0, le=MAX_DPO_WEIGHT)
    # weight of the chosen answers' per-token NLL added to the loss (RPO); 0 is plain DPO
    rpo_alpha: float = Field(0.0, ge=0.0, le=MAX_DPO_WEIGHT)


class PreferencesConfig(_Config):
    """What `nanogpt-lab prepare preferences` and `prepare lab-preferences` read."""

    source: Literal['preferences', 'lab-preferences'] = 'preferences'
    input: str | None = None  # preferences: a JSONL file in TRL's shape (prompt or messages, chosen, rejected)
    hf: str | None = Field(None, max_length=200)  # preferences: a Hugging Face dataset, through `datasets`
    name: str | None = None  # the folder under data_dir (default: lab-preferences, or from the input's name)
    data_dir: str | None = None
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    max_rows: int = Field(20_000, gt=0, le=1_000_000)  # of a Hugging Face dataset
    from_run: str | None = None  # lab-preferences (`--from=RUN`): the SFT run whose answers are judged
    tasks: str = 'lab-tasks'  # lab-preferences: the conversations whose prompts it answers
    # lab-preferences: held-in prompts asked (and 30% as many held out), answers per prompt (the greedy one among
    # them) and the temperature of the others. An SFT run answers its own training prompts ~98% right at 1.0
    # (bench sft's: 30 pairs from 700 prompts × 4); at 1.5 it errs enough for ~300 pairs from 1000 × 8 (benchmarks.md)
    prompts: int = Field(1000, gt=0, le=MAX_PROMPTS)
    samples: int = Field(8, ge=2, le=16)
    temperature: float = Field(1.5, gt=0.0, le=MAX_TEMPERATURE)
    seed: int = Field(1337, ge=0, le=MAX_SEED)
    device: str = 'auto'

    @field_validator('input', 'hf', 'name', 'data_dir', 'from_run', 'tasks')
    @classmethod
    def _no_nul(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and '\x00' in v:
            raise ConfigError('config.nul_in_name', key=info.field_name, value=repr(v))
        return v

    @field_validator('device')
    @classmethod
    def _known_device(cls, v: str) -> str:
        return _check_device(v)

    @model_validator(mode='after')
    def _one_source(self) -> PreferencesConfig:
        if self.source == 'preferences' and bool(self.input) == bool(self.hf):
            raise ConfigError('dpo.one_source', key='input')
        if self.source == 'lab-preferences' and not self.from_run:
            raise ConfigError('dpo.needs_from', key='from_run')
        return self


class ReportConfig(_Config):
    """What `nanogpt-lab report` reads: the run whose lineage is scored, where its data is, the device to score on."""

    out_dir: str
    data_dir: str | None = None
    device: str = 'auto'
    max_conversations: int = Field(1000, gt=0, le=MAX_CONVERSATIONS)  # held-out conversations each model answers

    @field_validator('device')
    @classmethod
    def _known_device(cls, v: str) -> str:
        return _check_device(v)


class DataConfig(_Config):
    """What `nanogpt-lab prepare` reads: which dataset, from where, how to split and tokenize it."""

    dataset: str = 'shakespeare_char'
    input: str | None = None  # a file, a folder, a JSONL or a saved HF dataset; None: download
    data_dir: str | None = None  # where <dataset>/ goes; None: the workspace's data/
    name: str | None = None  # the output folder name for `custom` (default: from the input's name)
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    tokenizer: Literal['char', 'gpt2', 'sentencepiece', 'bpe'] = 'char'  # custom, tang_poems, dialogue
    vocab_size: int | None = Field(None, gt=0, le=MAX_VOCAB)  # sentencepiece | bpe; None: 8000
    lang: Literal['en', 'zh', 'all'] = 'all'  # dialogue: which chatterbot-corpus languages
    simplified: bool = False  # tang_poems: convert traditional characters to simplified (OpenCC t2s)
    num_proc: int = Field(0, ge=0, le=MAX_NUM_PROC)  # tokenizer processes; 0 picks from the CPU count
    block_size: int = Field(64, gt=0, le=MAX_BLOCK)  # val must hold at least block_size + 1 tokens

    @field_validator('dataset')
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if v not in DATASETS:
            raise ConfigError('config.unknown_dataset', key='dataset', value=v, allowed=', '.join(DATASETS))
        return v

    @field_validator('input', 'data_dir', 'name')
    @classmethod
    def _no_nul(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and '\x00' in v:
            raise ConfigError('config.nul_in_name', key=info.field_name, value=repr(v))
        return v


# Sampling: nanoGPT's sample.py defaults, for every sampler in the lab (the CLI, the API, stage 5 and 6, the
# samples a training run shows, the recordings).
SAMPLE_TEMPERATURE = 0.8
SAMPLE_TOP_K = 200


@dataclass(frozen=True)
class SamplingSettings:
    """How to turn logits into a choice (inference/pipeline.py applies it). temperature 0 is greedy; top_k None/0 and
    top_p 1.0 cut nothing. The defaults leave the model's own distribution; `SampleConfig.sampling()` gives
    nanoGPT's sample.py defaults."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise LabError('inference.temperature', key='temperature', value=self.temperature)
        if self.top_k is not None and self.top_k < 0:
            raise LabError('inference.top_k', key='top_k', value=self.top_k)
        if not 0 < self.top_p <= 1:
            raise LabError('inference.top_p', key='top_p', value=self.top_p)
        if not (math.isfinite(self.repetition_penalty) and self.repetition_penalty > 0):
            raise LabError('inference.repetition_penalty', key='repetition_penalty', value=self.repetition_penalty)


class SampleConfig(_Config):
    """What `nanogpt-lab sample` reads: nanoGPT's sample.py keys plus top_p, repetition_penalty and stop strings."""

    init_from: str = 'resume'  # resume (from out_dir) | gpt2* | bundled (the tiny model shipped with the lab)
    out_dir: str = 'out'
    data_dir: str | None = None  # where to look for <dataset>/meta.pkl
    start: str = '\n'  # or "FILE:prompt.txt"
    num_samples: int = Field(10, gt=0, le=MAX_SAMPLES)
    max_new_tokens: int = Field(500, ge=0, le=MAX_SAMPLE_TOKENS)
    temperature: float = Field(SAMPLE_TEMPERATURE, ge=0.0, le=MAX_TEMPERATURE)
    top_k: int | None = Field(SAMPLE_TOP_K, ge=0, le=MAX_VOCAB)  # None or 0: no top-k cut
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.0, gt=0.0, le=MAX_PENALTY)
    stop: tuple[str, ...] = ()
    seed: int = Field(1337, ge=0, le=MAX_SEED)
    device: str = 'auto'
    dtype: Dtype = 'auto'
    compile: bool = False
    kv_cache: bool = True

    @field_validator('device')
    @classmethod
    def _known_device(cls, v: str) -> str:
        return _check_device(v)

    @field_validator('stop', mode='before')
    @classmethod
    def _stop_as_tuple(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    def sampling(self) -> SamplingSettings:
        """The one conversion from these keys to the sampling pipeline's settings."""
        return SamplingSettings(self.temperature, self.top_k, self.top_p, self.repetition_penalty)


class BenchSampleArgs(_Config):
    """What a `bench sample` job may set through the API (None: the suite's default). Files it would read or
    write (--json, --vs_nanogpt) are for the terminal."""

    max_new_tokens: int | None = Field(None, gt=0, le=MAX_SAMPLE_TOKENS)
    reps: int | None = Field(None, gt=0, le=MAX_BENCH_REPEATS)
    threads: int | None = Field(None, gt=0, le=MAX_THREADS)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)


class BenchTrainArgs(_Config):
    """What a `bench train` job may set through the API (None: the suite's default); paths are for the terminal."""

    suite: Literal['speed', 'quality', 'compile', 'gpu', 'all'] | None = None
    threads: int | None = Field(None, gt=0, le=MAX_THREADS)
    repeats: int | None = Field(None, gt=0, le=MAX_BENCH_REPEATS)
    quality_repeats: int | None = Field(None, gt=0, le=MAX_BENCH_REPEATS)
    iters: int | None = Field(None, gt=0, le=MAX_ITERS)
    iters_large: int | None = Field(None, gt=0, le=MAX_ITERS)
    gpu_iters: int | None = Field(None, gt=0, le=MAX_ITERS)


class BenchSftArgs(_Config):
    """What a `bench sft` job may set through the API (None: the suite's default; 0 iterations: the SFT preset's);
    its input text, recipe and JSON report are files, for the terminal."""

    threads: int | None = Field(None, gt=0, le=MAX_THREADS)
    sft_iters: int | None = Field(None, ge=0, le=MAX_ITERS)
    chat_prompts: int | None = Field(None, gt=0, le=MAX_SAMPLES)
    max_conversations: int | None = Field(None, gt=0, le=MAX_CONVERSATIONS)


class BenchDpoArgs(_Config):
    """What a `bench dpo` job may set through the API (None: the suite's default; 0: the DPO preset's iterations,
    lab-preferences' prompts); the SFT run it starts from and the folder it keeps are paths, for the terminal."""

    threads: int | None = Field(None, gt=0, le=MAX_THREADS)
    dpo_iters: int | None = Field(None, ge=0, le=MAX_ITERS)
    prompts: int | None = Field(None, ge=0, le=MAX_PROMPTS)
    max_conversations: int | None = Field(None, gt=0, le=MAX_CONVERSATIONS)


class ChatConfig(SampleConfig):
    """What `nanogpt-lab chat` reads: a model with a chat template, how to sample, and an optional system message."""

    max_new_tokens: int = Field(256, ge=1, le=MAX_SAMPLE_TOKENS)
    temperature: float = Field(0.6, ge=0.0, le=MAX_TEMPERATURE)  # lower than sampling's 0.8: an answer, not a story
    top_k: int | None = Field(50, ge=0, le=MAX_VOCAB)
    system: str = Field('', max_length=4000)


class ConversationsConfig(_Config):
    """What `nanogpt-lab prepare conversations` and `prepare lab-tasks` read."""

    source: Literal['conversations', 'lab-tasks'] = 'conversations'
    input: str | None = None  # a JSONL file (OpenAI messages, ShareGPT conversations or Alpaca)
    hf: str | None = Field(None, max_length=200)  # a Hugging Face dataset name, downloaded through `datasets`
    name: str | None = None  # the folder under data_dir (default: lab-tasks, or from the input's name)
    data_dir: str | None = None
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    seed: int = Field(1337, ge=0, le=MAX_SEED)  # lab-tasks only
    max_rows: int = Field(20_000, gt=0, le=1_000_000)  # of a Hugging Face dataset

    @field_validator('input', 'data_dir', 'name', 'hf')
    @classmethod
    def _no_nul(cls, v: str | None) -> str | None:
        if v is not None and '\x00' in v:
            raise ValueError('a NUL byte cannot be part of a name')
        return v

    @model_validator(mode='after')
    def _one_source(self) -> ConversationsConfig:
        if self.source == 'conversations' and bool(self.input) == bool(self.hf):
            raise ValueError('prepare conversations needs exactly one of --input FILE (JSONL) or --hf NAME')
        return self


class EvalConfig(_Config):
    """What `nanogpt-lab eval` reads: the run, and the conversations to score a chat model on."""

    out_dir: str
    dataset: str | None = None  # conversations for a chat model (default: those it was fine-tuned on)
    data_dir: str | None = None
    device: str = 'auto'
    max_conversations: int = Field(1000, gt=0, le=MAX_CONVERSATIONS)  # held-out conversations answered for exact match
    threads: int = Field(0, ge=0, le=1024)  # CPU threads for torch; 0: as many as are free (nanogpt_lab.cpu_threads)

    @field_validator('device')
    @classmethod
    def _known_device(cls, v: str) -> str:
        return _check_device(v)


C = TypeVar('C', bound=_Config)


def build(cls: type[C], values: Mapping[str, Any]) -> C:
    """Validate `values` into `cls`, turning pydantic's report into one ConfigError that names the key and rule."""
    unknown = [k for k in values if k not in cls.model_fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, list(cls.model_fields), n=3, cutoff=0.6)
        if close:
            raise ConfigError('config.unknown_key_close', key=key, close=', '.join(close))
        raise ConfigError('config.unknown_key', key=key, valid=', '.join(cls.model_fields))
    try:
        return cls(**values)
    except ValidationError as e:
        raise config_error(e.errors(include_url=False)[0], values) from None


# pydantic's error types a config (or an API body) can meet: each has a message of its own in the catalogs
PYDANTIC_ERRORS = frozenset(
    {
        'greater_than',
        'greater_than_equal',
        'less_than',
        'less_than_equal',
        'int_parsing',
        'int_from_float',
        'int_type',
        'float_parsing',
        'float_type',
        'bool_parsing',
        'bool_type',
        'string_type',
        'literal_error',
        'finite_number',
        'tuple_type',
        'list_type',
        'dict_type',
        'model_type',
        'missing',
        'extra_forbidden',
        'string_too_long',
        'string_too_short',
        'too_long',
        'too_short',
        'int_parsing_size',
        'json_invalid',
        'enum',
    }
)


def config_error(err: Mapping[str, Any], values: Mapping[str, Any] | None = None) -> ConfigError:
    """One pydantic error (`ValidationError.errors()[i]`) as a ConfigError with a code and parameters."""
    ctx = err.get('ctx') or {}
    cause = ctx.get('error')
    loc = [str(p) for p in err.get('loc', ()) if p not in ('body', 'query', 'path', 'header')]
    key = loc[0] if loc else None
    if isinstance(cause, LabError):  # our own rule, raised inside a validator
        return ConfigError(cause.code, **{'key': key, **cause.params})
    kind = err.get('type', '')
    given = (values or {}).get(key, err.get('input')) if key else err.get('input')
    params: dict[str, Any] = {'key': key, 'value': _shown(given)}  # loc[1:] would be a union member's tag
    params.update({k: _shown(v) for k, v in ctx.items() if k in ('gt', 'ge', 'lt', 'le', 'max_length', 'min_length')})
    if kind in ('literal_error', 'enum'):
        params['allowed'] = str(ctx.get('expected', '')).replace("' or '", "', '")
    if kind in PYDANTIC_ERRORS:
        return ConfigError(f'config.pydantic.{kind}', **params)
    return ConfigError('config.invalid', detail=str(err.get('msg', kind)).removeprefix('Value error, '), **params)


def _shown(value: Any) -> Any:
    """A value as a message shows it: numbers as they are (one beyond 64 bits as 1.18e+21: JSON clients cannot read
    it, nor can Python print a 5,000-digit one), anything else as Python writes it, cut to 80 characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 63:
        try:
            return f'{value:.3g}'
        except OverflowError:
            return f'2**{value.bit_length() - 1}'
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity: the message shows the word
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


# --- the plan's camelCase NanoGPTConfig, accepted at the API edge -------------------------------------------------

PLAN_SIZES = {'small': 'gpt2', 'medium': 'gpt2-medium', 'large': 'gpt2-large', 'xl': 'gpt2-xl', 'custom': 'custom'}
# the plan's field → the engine key it sets; each takes that key's type and bounds
PLAN_KEYS = {
    'modelSize': 'model', 'nLayer': 'n_layer', 'nHead': 'n_head', 'nEmbd': 'n_embd', 'blockSize': 'block_size',
    'batchSize': 'batch_size', 'learningRate': 'learning_rate', 'maxIters': 'max_iters',
    'gradientAccumulationSteps': 'gradient_accumulation_steps', 'initFrom': 'init_from', 'compiledModel': 'compile',
    'evalInterval': 'eval_interval',
}  # fmt: skip


def _plan_field(camel: str, key: str) -> tuple[Any, Any]:
    if camel == 'modelSize':
        return Literal[tuple(PLAN_SIZES)], 'custom'  # type: ignore[valid-type]
    info = TrainConfig.model_fields[key]
    typ = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return typ, info.default


PlanConfig = create_model(
    'PlanConfig',
    __base__=_Config,
    __doc__="The plan's camelCase NanoGPTConfig: each field has its engine key's type and bounds.",
    **{camel: _plan_field(camel, key) for camel, key in PLAN_KEYS.items()},
)


def from_camel(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the plan's `NanoGPTConfig` (camelCase JSON) into engine keys, checked by `PlanConfig` (a wrong type
    is a ConfigError naming the field); snake_case keys pass through, other camelCase keys are renamed."""
    plan = {k: v for k, v in values.items() if k in PLAN_KEYS}
    try:
        checked = PlanConfig(**plan)
    except ValidationError as e:
        raise config_error(e.errors(include_url=False)[0], plan) from None
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in PLAN_KEYS:
            value = getattr(checked, key)
            out[PLAN_KEYS[key]] = PLAN_SIZES[value] if key == 'modelSize' else value
        else:
            out[re.sub(r'(?<!^)([A-Z])', r'_\1', key).lower()] = value
    return out


# --- nanoGPT's config files and --key=value flags, parsed, never executed -----------------------------------------

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


MAX_CONFIG_BYTES = 64 << 10  # a config file (nanoGPT's are under 2 KB; Python parses 64 KB in milliseconds)
MAX_INT_BITS = 64  # any number a config file computes, at every step of the arithmetic
MAX_STR_CHARS = 100_000  # any string a config file computes (a long prompt fits)


class _LiteralReader:
    """Evaluates the few expression forms nanoGPT config files use: literals, arithmetic, names set earlier.

    Every value, including each step of the arithmetic, is bounded in size (MAX_INT_BITS, MAX_STR_CHARS), and a
    result that would break the bound is refused *before* it is computed, so `10**10**10` or `'a' * 10**10`
    fail in microseconds with the file and line, never after minutes and gigabytes.
    """

    def __init__(self, path: str):
        self.path = path
        self.values: dict[str, Any] = {}
        self.imported_time = False

    def read(self, source: str) -> dict[str, Any]:
        try:
            tree = ast.parse(source, filename=self.path)
        except SyntaxError as e:
            raise ConfigError('config.file.syntax', path=self.path, line=e.lineno, detail=e.msg) from None
        except (RecursionError, MemoryError):
            raise ConfigError('config.file.too_deep', path=self.path) from None
        for node in tree.body:
            try:
                self._statement(node)
            except RecursionError:
                raise self._fail(node, 'too_deep_at') from None
        return self.values

    def _fail(self, node: ast.AST, code: str, **params: Any) -> ConfigError:
        return ConfigError(f'config.file.{code}', path=self.path, line=node.lineno, **params)

    def _statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a docstring
        if isinstance(node, ast.Import) and [a.name for a in node.names] == ['time'] and not node.names[0].asname:
            self.imported_time = True  # nanoGPT's finetune_shakespeare.py names its run with time.time()
            return
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise self._fail(node, 'not_assignment', statement=_source(node))
        self.values[node.targets[0].id] = self._expr(node.value)

    def _expr(self, node: ast.expr) -> Any:
        return self._bounded(node, self._value(node))

    def _value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self._expr(node.operand)
            if not isinstance(v, (int, float)):
                raise self._fail(node, 'sign_of', expression=_source(node), type=type(v).__name__)
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self._expr(node.left), self._expr(node.right)
            self._check_size(node, left, right)
            try:
                return _BINOPS[type(node.op)](left, right)
            except (TypeError, ZeroDivisionError, OverflowError, ValueError) as e:
                raise self._fail(node, 'cannot_compute', expression=_source(node), detail=str(e)[:200]) from None
        if isinstance(node, ast.Name) and node.id in self.values:
            return self.values[node.id]
        if isinstance(node, ast.Call) and not node.keywords and len(node.args) <= 1:
            return self._call(node)
        raise self._fail(node, 'not_literal', expression=_source(node))

    def _check_size(self, node: ast.BinOp, left: Any, right: Any) -> None:
        """Refuse an operation whose result would be too big, from its operands' sizes alone."""
        ints = isinstance(left, int) and isinstance(right, int)
        if isinstance(node.op, ast.Pow) and ints and right > 0 and abs(left) > 1:
            bits = (abs(left).bit_length() - 1) * right  # a lower bound on the result's size
            if bits > MAX_INT_BITS:
                raise self._too_big(node, ref('config.file.size.bits', n=bits))
        elif isinstance(node.op, ast.Mult) and {type(left), type(right)} in ({str, int}, {str, bool}):
            n = len(left if isinstance(left, str) else right) * (right if isinstance(left, str) else left)
            if n > MAX_STR_CHARS:
                raise self._too_big(node, ref('config.file.size.chars', n=n))
        elif isinstance(node.op, ast.Mod) and isinstance(left, str):
            raise self._fail(node, 'formats_string', expression=_source(node))  # '%0999999999d' % 1 is 1 GB

    def _bounded(self, node: ast.AST, value: Any) -> Any:
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise self._too_big(node, ref('config.file.size.bits', n=value.bit_length()))
        if isinstance(value, str) and len(value) > MAX_STR_CHARS:
            raise self._too_big(node, ref('config.file.size.chars', n=len(value)))
        return value

    def _too_big(self, node: ast.AST, what: dict[str, Any]) -> ConfigError:
        return self._fail(node, 'too_big', expression=_source(node), what=what, bits=MAX_INT_BITS,
                          chars=MAX_STR_CHARS)  # fmt: skip

    def _call(self, node: ast.Call) -> Any:
        f = ast.unparse(node.func)
        if f == 'time.time' and self.imported_time and not node.args:
            return time.time()
        if f in ('str', 'int', 'float') and node.args:
            arg = self._expr(node.args[0])
            try:
                return {'str': str, 'int': int, 'float': float}[f](arg)
            except (TypeError, ValueError, OverflowError) as e:
                raise self._fail(node, 'cannot_compute', expression=_source(node), detail=str(e)[:200]) from None
        raise self._fail(node, 'calls_function', expression=_source(node))


def _source(node: ast.AST, width: int = 80) -> str:
    """The node's source as a message quotes it: its first line, cut short."""
    text = ast.unparse(node).splitlines()[0] if not isinstance(node, ast.Constant) else repr(node.value)[:width]
    return text if len(text) <= width else f'{text[: width - 1]}…'


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a nanoGPT-style `config/*.py` as literal assignments; anything else is an error naming the line."""
    p = Path(path)
    try:
        with open(p, 'rb') as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError('config.file.too_large', path=p, max=MAX_CONFIG_BYTES)
        source = raw.decode('utf-8')
    except FileNotFoundError:
        raise ConfigError('config.file.missing', path=p) from None
    except (UnicodeDecodeError, IsADirectoryError) as e:
        raise ConfigError('config.file.unreadable', path=p, reason=e.__class__.__name__) from None
    return _LiteralReader(str(p)).read(source)


def parse_value(text: str) -> Any:
    """A flag value as nanoGPT reads it: a Python literal when it is one, else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_overrides(args: Iterable[str]) -> tuple[list[str], dict[str, Any]]:
    """Split nanoGPT-style arguments into config files and `--key=value` overrides.

    `--key value` and hyphenated keys (`--max-iters=5`) are accepted as aliases of `--key=value`.
    """
    files: list[str] = []
    values: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        i += 1
        if not arg.startswith('--'):
            files.append(arg)
            continue
        key, eq, raw = arg[2:].partition('=')
        if not eq:
            if i >= len(items) or items[i].startswith('--'):
                raise ConfigError('config.flag_needs_value', key=key.replace('-', '_'), flag=key)
            raw = items[i]
            i += 1
        values[key.replace('-', '_')] = parse_value(raw)
    return files, values


def from_args(cls: type[C], args: Iterable[str], base: Mapping[str, Any] | None = None) -> C:
    """Build a config from nanoGPT-style CLI arguments: config files first, in order, then flags."""
    files, flags = parse_overrides(args)
    values: dict[str, Any] = dict(base or {})
    for f in files:
        values.update(read_config_file(f))
    values.update(flags)
    return build(cls, values)
