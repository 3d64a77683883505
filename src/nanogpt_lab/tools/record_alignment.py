"""Stage 7's recorded assets, measured from real runs: what `nanogpt-lab sim record` keeps beside an SFT recipe.

For the bundled chat model (recipe `chat-lab-tasks`: the bundled tiny model after SFT on lab-tasks) it exports the
run as a Hugging Face folder with its chat.json (weights stored as float16 to keep the package small), then
measures on exactly those stored weights: held-out exact match per task kind before SFT (the base with the template
attached, new rows at the mean, nothing learned) and after, the x-ray of one held-out conversation per kind (each
token's mask and its surprise under both models), and a few greedy answers. `record_simulation` writes them into the
asset's provenance.json and xray.json.

For the recorded DPO run (recipe `dpo-lab-tasks`: the bundled chat model tuned on lab-preferences, pairs it answered
itself and the task checkers labelled) it keeps the run's events and its report card: `report_card` scores the
lineage base → SFT (the bundled chat model) → DPO and answers the same held-out prompts before and after, and its
report.json is stored whole; the preference dataset's statistics go into provenance.json. No weights are kept.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from nanogpt_lab.fileio import atomic_write_text

log = logging.getLogger(__name__)

XRAY_FILE = 'xray.json'
MODEL_FILES = ('config.json', 'model.safetensors', 'chat.json')  # the exported folder's char_vocab.json is left out:
# chat.json holds the whole chat vocabulary (special tokens included), which a plain character list cannot
SAMPLE_PROMPTS = ('你好', 'Hello!', 'Spell cat.', '把 dog 倒过来', 'What is 4 + 5?', '用英文说 7',
                  'Continue: 床前明月光')  # fmt: skip


def prepare_lab_tasks(data_dir: Path) -> Path:
    """The lab's own instruction set in `data_dir/lab-tasks` (seeded: the same set every time)."""
    from nanogpt_lab.alignment.lab_tasks import LAB_TASKS
    from nanogpt_lab.alignment.lab_tasks import prepare_lab_tasks as prepare

    return prepare(data_dir / LAB_TASKS)


def prepare_lab_preferences(data_dir: Path, threads: int) -> Path:
    """Pairs made afresh as `nanogpt-lab prepare lab-preferences --from=bundled-chat` makes them (seeded): the
    bundled chat model answers lab-tasks' prompts, the task's checker and the language checker label the answers."""
    import torch

    from nanogpt_lab.alignment.preferences import LAB_PREFERENCES
    from nanogpt_lab.alignment.prepare import prepare_preferences
    from nanogpt_lab.config import PreferencesConfig
    from nanogpt_lab.inference.catalog import BUNDLED_CHAT

    prepare_lab_tasks(data_dir)
    torch.set_num_threads(threads)
    cfg = PreferencesConfig(source='lab-preferences', from_run=BUNDLED_CHAT, data_dir=str(data_dir), device='cpu')
    prepare_preferences(cfg)
    return data_dir / LAB_PREFERENCES


def dpo_run(out_dir: Path, target: Path, data_dir: Path) -> dict[str, Any]:
    """The DPO run's report card into `target/report.json`; returns the provenance's extra fields: the pairs it trained
    on (their statistics) and the card's headline figures."""
    from nanogpt_lab.alignment.preferences import LAB_PREFERENCES, load_info
    from nanogpt_lab.evaluation.card import card_summary, report_card
    from nanogpt_lab.evaluation.report_file import REPORT_FILE

    card = report_card(str(out_dir), str(data_dir), 'cpu')
    shutil.copyfile(out_dir / REPORT_FILE, target / REPORT_FILE)
    info = load_info(data_dir / LAB_PREFERENCES)
    pairs = {k: info[k] for k in ('source', 'pairs', 'prompts')}
    return {'preferences': pairs, 'report': REPORT_FILE, 'card': card_summary(card)}


def chat_model(out_dir: Path, target: Path, conversations: Path) -> dict[str, Any]:
    """Export the SFT run into the asset folder `target` and measure it there; returns the provenance's extra fields."""
    from nanogpt_lab.export import export_run

    exported = Path(export_run(str(out_dir), str(out_dir / 'hf'), fmt='hf'))
    export = json.loads((exported / 'provenance.json').read_text(encoding='utf-8'))
    for name in MODEL_FILES:
        shutil.copyfile(exported / name, target / name)
    _halve(target / 'model.safetensors')
    return {'export': {**export, 'files': list(MODEL_FILES), 'dtype': 'float16'}, **measure(target, conversations)}


def _halve(path: Path) -> None:
    """Store the weights as float16 (half the bytes; the loader reads them back into float32)."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(path), metadata={'format': 'pt'})


def measure(folder: Path, conversations: Path) -> dict[str, Any]:
    """Accuracy before and after SFT, the x-ray (written to folder/xray.json) and greedy answers of the chat model in
    `folder`, against the bundled base model it was fine-tuned from."""
    from nanogpt_lab.alignment.conversations import read_conversations
    from nanogpt_lab.alignment.embeddings import with_template
    from nanogpt_lab.evaluation.tasks import exact_match
    from nanogpt_lab.inference.chat import answer
    from nanogpt_lab.inference.loader import open_model

    sft, tok, _ = open_model(str(folder))
    base, _, _ = open_model('bundled')
    base = with_template(base, tok)
    sft.eval(), base.eval()
    val = read_conversations(conversations, 'val')
    accuracy = {}
    for stage, model in (('base', base), ('sft', sft)):
        result = exact_match(model, tok, val)
        accuracy[stage] = {k: v for k, v in result.items() if k != 'answers'}
        log.info('%s: held-out exact match %.3f', stage, result['accuracy'])
    xray = [_xray(conv, base, sft, tok) for conv in _one_per_kind(val)]
    atomic_write_text(folder / XRAY_FILE, json.dumps(xray, ensure_ascii=False, separators=(',', ':')) + '\n')
    samples = [{'prompt': p, 'answer': answer(sft, tok, [{'role': 'user', 'content': p}], 40)} for p in SAMPLE_PROMPTS]
    source = {'conversations': conversations.name, 'split': 'val', 'decoding': 'greedy'}
    return {'accuracy': {**accuracy, **source}, 'xray': XRAY_FILE, 'samples': samples}


def _one_per_kind(conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first held-out conversation of each task kind, in the order the kinds first appear."""
    seen: dict[str, dict[str, Any]] = {}
    for conv in conversations:
        seen.setdefault(conv.get('kind', 'conversation'), conv)
    return list(seen.values())


def _xray(conv: dict[str, Any], base: Any, sft: Any, tok: Any) -> dict[str, Any]:
    """One conversation's tokens, mask and surprise under the base and the SFT model (nats, 4 decimals)."""
    from nanogpt_lab.inference.analysis import conversation_surprise

    before = conversation_surprise(base, tok, conv['messages'])
    after = conversation_surprise(sft, tok, conv['messages'])
    tokens = [
        {**{k: t[k] for k in ('id', 'text', 'trained', 'special')}, 'base': _round(t['surprise']),
         'sft': _round(a['surprise'])}
        for t, a in zip(before, after, strict=True)
    ]  # fmt: skip
    return {'kind': conv.get('kind'), 'messages': conv['messages'], 'tokens': tokens}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
