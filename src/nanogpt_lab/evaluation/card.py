"""`nanogpt-lab report`: the report card of a lineage (base → SFT → DPO), every model scored the same way.

For each model of the chain that ends at a run (evaluation.lineage), side by side in `card.models`:
- `text_loss`: the loss on the base's pretraining val text, in nats per token and bits per character. Every model
  of the chain can be given this one (a chat vocabulary extends the base's), so it shows what alignment cost;
- `chat_loss`: the loss on the trained tokens (answers) of the held-out conversations (models with a template);
- `tasks`: held-out exact match per task kind, the English and the Chinese prompts in separate columns, each kind
  beside its chance level (the share of its most common answer: what always giving that answer scores) and its
  accuracy centred on chance, (accuracy − chance) / (1 − chance);
- `style`: the style preference's win rate: the share of held-out answers written in the script the expected
  answer is in (answer in the language asked);
- `preferences`: held-out preference accuracy: the share of the DPO dataset's held-out pairs whose chosen answer
  the model finds likelier than the rejected one, log π(y_w|x) > log π(y_l|x);
- `provenance`: the run, the commit of the code that scored it, the device and the date.
`card.contamination` lists every evaluation prompt found in some model's training data, and `card.warnings` says so.
`card.before_after` holds the newest model's and its parent's greedy answers to the same held-out prompts, each
judged by the task's checker (evaluation.answers), so a page can show them side by side without a model.
The card is written into the newest run's report.json as its section `card`; the older runs are only read.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from nanogpt_lab import revision
from nanogpt_lab.alignment.conversations import read_conversations
from nanogpt_lab.alignment.embeddings import attach_template
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.pair_batches import answer_logps, collate, render_pairs
from nanogpt_lab.alignment.preferences import Pair, is_preferences, load_split, pairs_folder
from nanogpt_lab.alignment.template import ChatTokenizer, load_chat
from nanogpt_lab.data import dataset_dir
from nanogpt_lab.evaluation.answers import Answered, before_and_after
from nanogpt_lab.evaluation.contamination import find_overlaps
from nanogpt_lab.evaluation.lineage import Link, lineage
from nanogpt_lab.evaluation.report import chat_loss, conversations_folder, fitting, text_loss
from nanogpt_lab.evaluation.report_file import read_report, write_report
from nanogpt_lab.evaluation.tasks import exact_match, lang_of, prompt_of, script
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.inference.catalog import BUNDLED, bundled_folder

CARD_VERSION = 1
LANGS = ('en', 'zh')
MAX_PAIRS = 1000  # held-out pairs scored for preference accuracy
MAX_CONVERSATIONS = 1000  # held-out conversations answered for exact match
MAX_TEXT_BYTES = 50_000_000  # a pretraining text larger than this is not searched for evaluation prompts


def chance_level(conversations: Sequence[dict[str, Any]]) -> float:
    """What always giving the most common expected answer scores on these conversations."""
    answers = Counter(c['messages'][-1]['content'].strip() for c in conversations)
    return answers.most_common(1)[0][1] / len(conversations) if conversations else 0.0


def _column(result: dict[str, Any], conversations: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One language's exact match: overall, and per kind with its chance level and chance-centred accuracy."""
    kinds = {}
    for kind, k in result['kinds'].items():
        chance = chance_level([c for c in conversations if c.get('kind', 'conversation') == kind])
        centred = (k['accuracy'] - chance) / (1 - chance) if chance < 1 else 0.0
        kinds[kind] = {**k, 'chance': round(chance, 6), 'centred': round(centred, 6)}
    return {'accuracy': result['accuracy'], 'conversations': result['conversations'], 'kinds': kinds}


def score_tasks(model: Any, tokenizer: ChatTokenizer, conversations: list[dict[str, Any]], emit: Emit = null_emit):
    """Exact match in an English and a Chinese column, the style win rate judged on the same greedy answers, and
    those answers (`answered`: each conversation with the answer given, for the card's before and after)."""
    columns: dict[str, Any] = {}
    given: dict[int, str] = {}  # id(conversation) -> the answer given
    for lang in LANGS:
        convs = [c for c in conversations if lang_of(c) == lang]
        if not convs:
            continue
        result = exact_match(model, tokenizer, convs)
        columns[lang] = _column(result, convs)
        given |= {id(c): got for c, got in zip(convs, result['answers'], strict=True)}
        emit_log(emit, 'log.dpo.card_tasks', lang=lang, accuracy=round(result['accuracy'], 4), conversations=len(convs))
    answered = [(c, given[id(c)]) for c in conversations if id(c) in given]  # in the held-out order
    wanted = [(script(c['messages'][-1]['content']), got) for c, got in answered]  # (the expected answer's script, …)
    judged = [(want, got) for want, got in wanted if want]
    rate = sum(script(got) == want for want, got in judged) / len(judged) if judged else None
    style = {'win_rate': rate, 'answers': len(judged), 'rule': 'dpo.style_rule'}
    return {'tasks': columns, 'style': style, 'answered': answered}


@torch.no_grad()
def preference_accuracy(model: Any, tokenizer: ChatTokenizer, pairs: list[Pair], batch_size: int = 16) -> dict:
    """The share of pairs whose chosen answer the model finds likelier than the rejected one."""
    device = str(next(model.parameters()).device)
    rendered = render_pairs(pairs[:MAX_PAIRS], tokenizer, model.config.block_size, 'val').pairs
    wins = 0
    for start in range(0, len(rendered), batch_size):
        logp_w, logp_l = answer_logps(model, *collate(rendered[start : start + batch_size], device))
        wins += int((logp_w > logp_l).sum())
    return {'accuracy': wins / len(rendered), 'pairs': len(rendered)}


# --- the chain ------------------------------------------------------------------------------------------------------


def data_root(link: Link, data_dir: str | None) -> str | None:
    """Where the run's dataset is: in `data_dir` when it holds it, else where the run was trained from."""
    name = str(link.config.get('dataset') or '')
    for root in (data_dir, link.config.get('data_dir')):
        if root and name and (Path(root) / name).is_dir():
            return str(root)
    return data_dir or link.config.get('data_dir')


def held_out(chain: list[Link], data_dir: str | None) -> tuple[Path | None, Path | None]:
    """The chain's held-out conversations (its SFT model's dataset) and preference pairs (its DPO model's)."""
    tasks = prefs = None
    for link in chain:
        root = data_root(link, data_dir)
        if link.stage == 'sft' and link.config.get('dataset'):
            folder = conversations_folder(link.config, None, root)
            tasks = folder if (folder / 'val.jsonl').is_file() else None  # bundled-chat's lab-tasks: if prepared
        elif link.stage == 'dpo' and link.config.get('dataset'):
            folder = pairs_folder(dataset_dir(str(link.config['dataset']), root))  # past its vocabulary folder
            prefs = folder if is_preferences(folder) else None
    return tasks, prefs


def chain_template(chain: list[Link]) -> ChatTokenizer | None:
    """The chat vocabulary of the chain's first model that has one (its SFT run's chat.json)."""
    for link in chain:
        folder = link.run or (bundled_folder(BUNDLED[link.source]) if link.source in BUNDLED else None)
        if link.stage in ('sft', 'dpo') and folder is not None:
            tokenizer = load_chat(folder)
            if tokenizer is not None:
                return tokenizer
    return None


def _provenance(link: Link, device: str) -> dict[str, Any]:
    return {
        'run': link.name,
        'out_dir': str(link.run) if link.run else None,
        'commit': revision.git_state()['commit'],
        'device': device,
        'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    }


def open_scored(
    link: Link, data_dir: str | None, device: str, template: ChatTokenizer | None
) -> tuple[Any, Any, list[dict[str, Any]]]:
    """The link's model in eval mode, its tokenizer, and notes on how it is scored.

    A base without a chat template is scored with `template` (the chain's SFT vocabulary) attached, its new rows at
    the mean of the others and nothing learned: the "before SFT" of every figure.
    """
    from nanogpt_lab.inference.loader import open_model

    model, tokenizer, _ = open_model(str(link.run) if link.run else link.source, None, data_dir)
    model = model.to(device).eval()
    notes = []
    if not isinstance(tokenizer, ChatTokenizer) and template is not None:
        attach_template(model, template, template.base_vocab_size)  # this copy only: nothing is written
        tokenizer = template
        notes.append({'code': 'dpo.card_template_attached', 'params': {}})
    if not isinstance(tokenizer, ChatTokenizer):
        notes.append({'code': 'dpo.card_no_template', 'params': {}})
    return model, tokenizer, notes


def score_link(
    link: Link,
    base: Link,
    held: tuple[Path | None, Path | None],
    data_dir: str | None,
    device: str,
    emit: Emit,
    max_conversations: int = MAX_CONVERSATIONS,
    template: ChatTokenizer | None = None,
) -> tuple[dict[str, Any], Answered | None]:
    """One model's entry of the card, figures it cannot have absent with a note saying why; and its answers to the
    held-out conversations (None when it gave none)."""
    tasks, prefs = held
    entry: dict[str, Any] = {'stage': link.stage, 'name': link.name, 'source': link.source, 'notes': []}
    answered = None
    if link.stage == 'unknown':
        entry['notes'].append({'code': 'dpo.card_missing', 'params': {'source': link.source}})
        return entry, answered
    emit_log(emit, 'log.dpo.card_model', stage=link.stage, run=link.name)
    model, tokenizer, entry['notes'] = open_scored(link, data_dir, device, template)
    if base.config.get('dataset'):
        try:
            entry['text_loss'] = text_loss(model, base.config, data_root(base, data_dir), emit)
        except AlignmentError as e:  # the base's text is not prepared here: that figure is absent, the others stand
            entry['notes'].append({'code': e.code, 'params': e.params})
    if isinstance(tokenizer, ChatTokenizer) and tasks is not None:
        val = fitting(read_conversations(tasks, 'val'), tokenizer, model.config.block_size)
        entry['chat_loss'] = chat_loss(model, tokenizer, val, tasks.name)
        scores = score_tasks(model, tokenizer, val[:max_conversations], emit)
        answered = scores.pop('answered')
        entry.update(scores)
    if isinstance(tokenizer, ChatTokenizer) and prefs is not None:
        entry['preferences'] = {
            **preference_accuracy(model, tokenizer, load_split(prefs, 'val')),
            'dataset': prefs.name,
        }
    entry['provenance'] = _provenance(link, device)
    return entry, answered


def side_by_side(
    chain: list[Link], tasks: Path | None, answered: list[Answered | None], emit: Emit = null_emit
) -> dict[str, Any] | None:
    """The newest model and its parent answering the same held-out prompts (evaluation.answers), from the answers
    their scoring gave; None when the chain has no parent or one of the two answered nothing (no held-out
    conversations, or a model without a chat template)."""
    if len(chain) < 2 or tasks is None or answered[-2] is None or answered[-1] is None:
        return None
    pairs = before_and_after(answered[-2], answered[-1])
    emit_log(emit, 'log.dpo.card_answers', before=chain[-2].name, after=chain[-1].name, total=pairs['total'],
             right_before=pairs['correct']['before'], right_after=pairs['correct']['after'])  # fmt: skip
    return {'before': chain[-2].name, 'after': chain[-1].name, 'tasks': tasks.name, **pairs}


def _train_text(link: Link, data_dir: str | None) -> str | None:
    """A base's pretraining text (train.bin decoded), when it is small enough to search."""
    from nanogpt_lab.tokenizers import TokenizerError, tokenizer_for_dataset

    folder = dataset_dir(str(link.config['dataset']), data_root(link, data_dir))
    path = folder / 'train.bin'
    if not path.is_file() or path.stat().st_size > MAX_TEXT_BYTES:
        return None
    import numpy as np

    try:
        return tokenizer_for_dataset(folder).decode(np.fromfile(path, dtype=np.uint16).tolist())
    except TokenizerError:
        return None


def contamination(chain: list[Link], tasks: Path | None, prefs: Path | None, data_dir: str | None) -> list[dict]:
    """Evaluation prompts found in some model's training data: SFT conversations, DPO pairs, the base's text."""
    eval_prompts = [prompt_of(c['messages'][:-1]) for c in read_conversations(tasks, 'val')] if tasks else []
    eval_prompts += [prompt_of(p.messages()) for p in load_split(prefs, 'val')] if prefs else []
    prompts: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    for link in chain:
        where = f'{link.stage} {link.name}'
        if link.stage == 'sft' and tasks:
            prompts[f'{where}: {tasks.name}'] = [
                prompt_of(c['messages'][:-1]) for c in read_conversations(tasks, 'train')
            ]
        elif link.stage == 'dpo' and prefs:
            prompts[f'{where}: {prefs.name}'] = [prompt_of(p.messages()) for p in load_split(prefs, 'train')]
        elif link.stage == 'base' and link.config.get('dataset'):
            text = _train_text(link, data_dir)
            if text is not None:
                texts[f'{where}: {link.config["dataset"]}'] = text
    return [o.to_json() for o in find_overlaps(eval_prompts, prompts, texts)]


def with_config(link: Link) -> Link:
    """A run without config.json (a nanoGPT out_dir) has its settings in its checkpoint: read them from there."""
    if link.config or link.run is None or not (link.run / 'ckpt.pt').is_file():
        return link
    from nanogpt_lab.model.checkpoint import load_checkpoint

    return replace(link, config=dict(load_checkpoint(link.run).get('config') or {}))


def report_card(
    out_dir: str,
    data_dir: str | None = None,
    device: str = 'cpu',
    emit: Emit = null_emit,
    max_conversations: int = MAX_CONVERSATIONS,
) -> dict:
    """Score every model of the lineage ending at `out_dir`, write the card into its report.json, return the card."""
    from nanogpt_lab.hardware import resolve_device

    device = resolve_device(device)
    chain = [with_config(link) for link in lineage(out_dir)]
    held = held_out(chain, data_dir)
    template = chain_template(chain)
    scored = [score_link(link, chain[0], held, data_dir, device, emit, max_conversations, template) for link in chain]
    models = [entry for entry, _ in scored]
    overlaps = contamination(chain, *held, data_dir)
    if overlaps:
        emit_log(emit, 'log.dpo.card_contaminated', 'warning', count=len(overlaps), first=overlaps[0]['prompt'])
    card = {
        'version': CARD_VERSION,
        'lineage': [m['name'] for m in models],
        'models': models,
        'held_out': {'tasks': held[0].name if held[0] else None, 'preferences': held[1].name if held[1] else None},
        'contamination': overlaps,
        'before_after': side_by_side(chain, held[0], [answers for _, answers in scored], emit),
        'warnings': [{'code': 'dpo.card_contaminated', 'params': {'count': len(overlaps)}}] if overlaps else [],
    }
    report = read_report(Path(out_dir))
    report['card'] = card
    write_report(Path(out_dir), report)
    return card


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """The job's end summary: per model, the headline figures."""
    return {
        'lineage': card['lineage'],
        'contamination': len(card['contamination']),
        'models': [
            {'name': m['name'], 'stage': m['stage'], 'bits_per_char': (m.get('text_loss') or {}).get('bits_per_char'),
             'accuracy': {lang: c['accuracy'] for lang, c in (m.get('tasks') or {}).items()},
             'preference_accuracy': (m.get('preferences') or {}).get('accuracy')}
            for m in card['models']
        ],
    }  # fmt: skip
