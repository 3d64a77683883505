"""One tab's chat on stage 7: a chat model (the bundled chat model, or a run with a chat template) and its base with
the same template attached — new rows at the mean, nothing learned — for the page's comparisons (the x-ray's
"before", "same message, two models").

Everything that touches torch is a method here and runs in a worker thread (`nicegui.run.io_bound` or `streamed`),
after the page is up: importing this module loads no torch. Models come from the lab's one model cache, so a model
loads once however many tabs chat with it; the base copy with the template is this session's own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nanogpt_lab import workspace
from nanogpt_lab.config import ChatConfig, SampleConfig, SamplingSettings
from nanogpt_lab.errors import LabError
from nanogpt_lab.evaluation.report_file import read_report
from nanogpt_lab.inference.catalog import BUNDLED, BUNDLED_CHAT, BUNDLED_NAME
from nanogpt_lab.ui.components.sampler_session import BUNDLED as BUNDLED_BASE  # the bundled chat model's base
from nanogpt_lab.ui.components.sampler_session import RUN_PREFIX, model_cache

CHAT_DEFAULTS = ChatConfig()  # what `nanogpt-lab chat` samples with: the page starts from the same settings
Emit = Callable[[dict[str, Any]], None]


def chat_model_ids(real: bool, runs: Sequence[dict[str, Any]]) -> list[str]:
    """The models a tab can chat with: the bundled chat model always; in real mode also every run with chat.json."""
    ids = [BUNDLED_CHAT]
    if real:
        ids += [RUN_PREFIX + r['id'] for r in runs if r.get('has_checkpoint') and has_template(r['id'])]
    return ids


def has_template(run_id: str) -> bool:
    """Whether a run of the workspace speaks the chat template (its folder has chat.json)."""
    from nanogpt_lab.alignment.template import CHAT_FILE

    try:
        return (workspace.inside(workspace.runs_root(), run_id) / CHAT_FILE).is_file()
    except LabError:
        return False


def chat_label(model_id: str, tr: Any) -> str:
    """How the page names a chat model."""
    if model_id == BUNDLED_CHAT:
        return tr('alignment.chat.bundled')
    return tr('inference.model.run', run=model_id.removeprefix(RUN_PREFIX))


def sample_config(model_id: str) -> SampleConfig:
    """The SampleConfig that loads a chat model: the bundled one on the CPU (it is tiny), a run on `auto`."""
    if model_id == BUNDLED_CHAT:
        return SampleConfig(init_from=BUNDLED_CHAT, device='cpu', dtype='float32')
    if model_id.startswith(RUN_PREFIX):
        folder = workspace.inside(workspace.runs_root(), model_id.removeprefix(RUN_PREFIX))
        return SampleConfig(init_from='resume', out_dir=str(folder), device='auto')
    raise LabError('inference.unknown_model', model=model_id, pretrained=BUNDLED_CHAT)


def base_source(model_id: str) -> str | None:
    """What a chat model was fine-tuned from (its lineage's base), as `init_from` names it; None when unknown."""
    if model_id == BUNDLED_CHAT:
        return BUNDLED_BASE
    from nanogpt_lab.evaluation.lineage import lineage

    chain = lineage(Path(sample_config(model_id).out_dir))
    if chain[0].run is None and chain[0].source in BUNDLED:  # both bundled models go back to the bundled base
        return BUNDLED_BASE
    base = next((link for link in chain if link.stage == 'base'), None)
    if base is None:
        return None
    return str(base.run) if base.run is not None else base.source


class ChatSession:
    """A chat model and, on first use, its base with the template. Methods run torch: call them from a worker."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self.loaded: Any = None
        self._base: Any = None
        self.base_name: str | None = None
        self.lock = threading.Lock()  # the base is made once, by whichever request needs it first

    def load(self) -> dict[str, Any]:
        """Load (or take from the cache) the chat model; a model without a template is refused by code."""
        from nanogpt_lab.alignment.errors import AlignmentError
        from nanogpt_lab.alignment.template import ChatTokenizer

        loaded = model_cache().load(sample_config(self.model_id))
        if not isinstance(loaded.tokenizer, ChatTokenizer):
            raise AlignmentError('alignment_engine.no_template')
        self.loaded = loaded
        return dict(loaded.source)

    @property
    def tokenizer(self) -> Any:
        """The chat vocabulary (base tokens, special tokens, added characters)."""
        return self.loaded.tokenizer

    def base(self) -> Any:
        """The base model reading the chat vocabulary, nothing learned (made once; None when the base is gone)."""
        from nanogpt_lab.alignment.embeddings import with_template
        from nanogpt_lab.inference.loader import open_model

        with self.lock:
            if self._base is None:
                source = base_source(self.model_id)
                if source is None:
                    return None
                model, _, _ = open_model(source, None, None)
                self._base = with_template(model, self.tokenizer).to(self.loaded.device).eval()
                self.base_name = BUNDLED_NAME if source == BUNDLED_BASE else Path(source).name
            return self._base

    def check(self, messages: list[dict[str, str]]) -> None:
        """Refuse, by code, a next message the model cannot answer (a character it cannot read, a message over the
        limit or too long for its context) before it joins the conversation: a refused message stays in the box."""
        from nanogpt_lab.inference.chat import build_prompt

        build_prompt(messages, self.tokenizer, self.loaded.model.config.block_size)

    def answer(
        self,
        messages: list[dict[str, str]],
        settings: SamplingSettings,
        max_new_tokens: int,
        seed: int,
        emit: Emit,
        should_stop: Callable[[], bool],
    ) -> str | None:
        """Stream the chat model's answer to `messages`, one TokenEvent dict per token; returns how it finished."""
        from nanogpt_lab.inference.chat import chat_stream

        model, tok = self.loaded.model, self.tokenizer
        for event in chat_stream(model, tok, messages, settings, max_new_tokens, seed=seed):
            if should_stop():
                return 'stopped'
            emit(event.as_dict())
            if event.finish:
                return event.finish
        return None

    def continuation(
        self, text: str, settings: SamplingSettings, max_new_tokens: int, seed: int, emit: Emit,
        should_stop: Callable[[], bool],
    ) -> str | None:  # fmt: skip
        """Stream the base model's continuation of `text` as plain text (no template): what pretraining taught it.
        Returns 'no_base' when the base cannot be found (a run whose base folder is gone)."""
        from nanogpt_lab.inference.sampler import stream

        base = self.base()
        if base is None:
            return 'no_base'
        ids = self.tokenizer.encode(text)[-(base.config.block_size - 1) :]
        room = min(max_new_tokens, base.config.block_size - len(ids))
        for event in stream(base, self.tokenizer, ids, settings, room, seed=seed, alternatives=0):
            if should_stop():
                return 'stopped'
            emit(event.as_dict())
        return 'length'

    def xray(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The conversation's tokens as the template renders them, each with its mask and its surprise under the
        base (before SFT) and the chat model (after); `base` is absent when the base is gone."""
        from nanogpt_lab.inference.analysis import conversation_surprise

        after = conversation_surprise(self.loaded.model, self.tokenizer, messages)
        base = self.base()
        before = conversation_surprise(base, self.tokenizer, messages) if base is not None else None
        tokens = [
            {**{k: t[k] for k in ('id', 'text', 'trained', 'special')}, 'sft': t['surprise'],
             'base': before[i]['surprise'] if before else None}
            for i, t in enumerate(after)
        ]  # fmt: skip
        return {'messages': messages, 'tokens': tokens, 'base': self.base_name if before else None}


# --- "Teach it": the learner's picks, kept as preference pairs ------------------------------------------------------

PICKS_LOCK = threading.Lock()  # two tabs picking into one dataset take turns: each pick rewrites its files
DEFAULT_PICKS = 'my-picks'


def picks_folder(name: str) -> Path:
    """Where a preference dataset of picks lives: data/<name>/ in the workspace (a name, never a path)."""
    return workspace.inside(workspace.data_root(), name)


def pick_count(name: str) -> int:
    """How many pairs the dataset holds (0 for a name not used yet)."""
    from nanogpt_lab.alignment.preferences import is_preferences, load_info

    folder = picks_folder(name)
    return sum(load_info(folder)['pairs'].values()) if is_preferences(folder) else 0


def save_pick(name: str, messages: list[dict[str, str]], chosen: str, rejected: str, model_id: str) -> int:
    """Append one pick as a pair (dpo's format, TRL's shape) to the dataset `name`; returns how many it holds."""
    from nanogpt_lab.alignment.preferences import Pair, append_pair

    prompt = tuple((m['role'], m['content']) for m in messages)
    pair = Pair(prompt, chosen, rejected, labels={'why': 'picked', 'model': model_id})
    with PICKS_LOCK:
        info = append_pair(picks_folder(name), pair)
    return sum(info['pairs'].values())


def dpo_request(model_id: str, picks: str) -> dict[str, str]:
    """The `dpo` job request for "Train on my choices": from the chat's model, on the picks collected here (the
    rest is the DPO preset, as `nanogpt-lab dpo` applies it)."""
    init_from = BUNDLED_CHAT if model_id == BUNDLED_CHAT else model_id.removeprefix(RUN_PREFIX)
    return {'init_from': init_from, 'dataset': picks}


# --- what the page lists and reads (torch-free) ----------------------------------------------------------------------


def conversation_datasets() -> list[str]:
    """The prepared conversation datasets of the workspace (data/<name>/ with conversations.json), sorted."""
    from nanogpt_lab.alignment.conversations import MANIFEST_FILE

    root = workspace.data_root()
    return sorted(p.parent.name for p in root.glob(f'*/{MANIFEST_FILE}')) if root.is_dir() else []


def run_report(model_id: str) -> tuple[dict[str, Any], str] | None:
    """A chat run's measured exact match (report.json from `eval`) as the accuracy chart takes it, and the device
    it was measured on; None before it is measured."""
    try:
        report = read_report(Path(sample_config(model_id).out_dir))
        tasks = next(iter(report['tasks'].values()))
    except (OSError, ValueError, KeyError, StopIteration, AttributeError):
        return None
    return {'base': None, 'sft': tasks}, str((report.get('provenance') or {}).get('device', '?'))
