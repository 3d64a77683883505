"""`nanogpt-lab eval`: score a run and keep the scores in its folder as report.json.

Any run: the validation loss of its own dataset over the whole val.bin (every token once), in nats per token and in
bits per character. A run with a chat template (SFT, DPO): instead, the loss on the trained tokens of the held-out
conversations, and exact match per task kind, answers generated greedily through the template.

report.json (format "nanogpt-lab-report", version 1) is a set of named sections, so later tools add theirs
(preference accuracy, a lineage report card) and `eval` rewrites only its own:

    {"format", "version", "run": {out_dir, run_id, iter_num, best_val_loss, init_from, dataset, chat},
     "lineage": [{name, stage, source, out_dir}, ...]   the models this run grew from, oldest first, this run last
     "losses": {NAME: {split, what, nats_per_token, bits_per_token, bits_per_char, tokens, chars_per_token}},
     "tasks": {NAME: {accuracy, macro_accuracy, conversations, decoding, kinds: {KIND: {correct, total, accuracy}},
                      wrong_examples: {KIND: [{prompt, expected, got}]}}},
     "provenance": {source: "live", device, torch, evaluated_at, seconds}}
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nanogpt_lab.alignment.conversations import read_conversations
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.packed import PACKED_FILE, Packed
from nanogpt_lab.alignment.template import ChatTokenizer, render_conversation, targets
from nanogpt_lab.data.progress import Progress
from nanogpt_lab.evaluation.bits import LN2, bits_per_char, split_chars_per_token
from nanogpt_lab.evaluation.lineage import lineage
from nanogpt_lab.evaluation.report_file import REPORT_FILE, read_report, write_report
from nanogpt_lab.evaluation.tasks import exact_match
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.fileio import read_json_object
from nanogpt_lab.messages import ref
from nanogpt_lab.workspace import RUN_CONFIG_NAME

LOSS_BATCH = 64  # held-out conversations per forward pass of the loss
MAX_VAL_TOKENS = 1_000_000  # of a pretraining val.bin: more than tiny Shakespeare's, a few minutes on a CPU


def evaluate_run(
    out_dir: str,
    dataset: str | None = None,
    data_dir: str | None = None,
    device: str = 'cpu',
    emit: Emit = null_emit,
    max_conversations: int = 1000,
) -> dict[str, Any]:
    """Score the run in `out_dir` and merge the scores into its report.json; return the report."""
    started = time.time()
    scores = score_run(out_dir, dataset, data_dir, device, emit, max_conversations)
    return merge_report(Path(out_dir), scores, time.time() - started)


@dataclass
class Scores:
    """What one evaluation found: the losses and task accuracies, and the run's source and config beside them."""

    losses: dict[str, Any]
    tasks: dict[str, Any]
    source: dict[str, Any]
    config: dict[str, Any]
    device: str


def score_run(
    out_dir: str,
    dataset: str | None = None,
    data_dir: str | None = None,
    device: str = 'cpu',
    emit: Emit = null_emit,
    max_conversations: int = 1000,
) -> Scores:
    """Score the run in `out_dir` without writing anything (a report card scores a whole lineage this way).

    A chat run answers the first `max_conversations` held-out conversations for exact match; its loss covers all.
    """
    from nanogpt_lab.hardware import resolve_device
    from nanogpt_lab.inference.loader import open_model

    model, tokenizer, source = open_model('resume', out_dir, data_dir)
    device = resolve_device(device)
    model = model.to(device).eval()
    config = read_json_object(Path(out_dir) / RUN_CONFIG_NAME)
    if isinstance(tokenizer, ChatTokenizer):
        losses, tasks = _chat_scores(model, tokenizer, config, (dataset, data_dir), emit, max_conversations)
        return Scores(losses, tasks, source, config, device)
    if dataset and dataset != config.get('dataset'):
        emit_log(emit, 'log.alignment_engine.eval_no_template', 'warning', path=out_dir, dataset=dataset,
                 own=str(config.get('dataset')))  # fmt: skip
    return Scores(text_loss(model, config, data_dir, emit, source), {}, source, config, device)


# --- a pretraining run: the whole val.bin ---------------------------------------------------------------------------


def text_loss(
    model: Any, config: dict, data_dir: str | None, emit: Emit = null_emit, source: dict | None = None
) -> dict[str, Any]:
    """Loss over the val.bin of the run `config` describes, in block_size windows (every target once), and its bits
    per character. `model` may be another model of its lineage: a chat vocabulary extends the base's."""
    from nanogpt_lab.data import dataset_dir
    from nanogpt_lab.evaluation.loss import full_val_loss

    name = config.get('dataset') or (source or {}).get('dataset')
    if not name:
        raise AlignmentError('alignment_engine.no_dataset')
    folder = dataset_dir(name, data_dir or config.get('data_dir'))
    val = folder / 'val.bin'
    if not val.is_file():
        raise AlignmentError('alignment_engine.no_val_bin', path=val, dataset=name)
    block = model.config.block_size
    emit_log(emit, 'log.alignment_engine.eval_loss', dataset=name, block=block)
    nats = full_val_loss(model, val, block, device=str(next(model.parameters()).device), max_tokens=MAX_VAL_TOKENS)
    data = np.memmap(val, dtype=np.uint16, mode='r')
    n = (min(len(data), MAX_VAL_TOKENS + 1) - 1) // block * block  # the targets full_val_loss scored
    cpt = split_chars_per_token(folder, 'val')  # of the whole split (a sample's would differ by noise)
    what = f'val.bin, {n:,} target tokens in {block}-token windows'
    return {name: _loss_entry(nats, n, cpt, 'val', what)}


def _loss_entry(nats: float, tokens: int, chars_per_token: float | None, split: str, what: str) -> dict[str, Any]:
    return {
        'split': split,
        'what': what,
        'nats_per_token': round(nats, 6),
        'bits_per_token': round(nats / LN2, 6),
        'bits_per_char': round(bits_per_char(nats, chars_per_token), 6) if chars_per_token else None,
        'tokens': int(tokens),
        'chars_per_token': round(chars_per_token, 6) if chars_per_token else None,
    }


# --- a chat run: held-out conversations ------------------------------------------------------------------------------


def _chat_scores(
    model: Any, tokenizer: ChatTokenizer, config: dict, where: tuple[str | None, str | None], emit: Emit, limit: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = conversations_folder(config, *where)
    fits = fitting(read_conversations(folder, 'val'), tokenizer, model.config.block_size)
    if not fits:
        raise AlignmentError('alignment_engine.no_val', name=folder.name, block_size=model.config.block_size)
    losses = chat_loss(model, tokenizer, fits, folder.name)
    scored = fits[:limit]
    emit_log(emit, 'log.alignment_engine.eval_tasks', dataset=folder.name, conversations=len(scored))
    progress = Progress(emit, ref('progress.exact_match'), 'conversations', len(scored))
    result = exact_match(model, tokenizer, scored, progress=lambda done, total: progress(done))
    return losses, {folder.name: {**result, 'decoding': 'greedy (temperature 0)'}}


def fitting(conversations: list[dict], tokenizer: ChatTokenizer, block_size: int) -> list[dict]:
    """The conversations a model with this context can read whole."""
    return [c for c in conversations if len(render_conversation(c['messages'], tokenizer)[0]) <= block_size + 1]


def chat_loss(model: Any, tokenizer: ChatTokenizer, conversations: list[dict], name: str) -> dict[str, Any]:
    """The loss on the trained tokens (answers and their <|end|>) of `conversations`, which fit the model."""
    nats, tokens, chars = _masked_loss(model, tokenizer, conversations)
    what = f'trained tokens (assistant answers and <|end|>) of {len(conversations):,} held-out conversations'
    return {name: _loss_entry(nats, tokens, chars / tokens, 'val', what)}


def conversations_folder(config: dict, dataset: str | None, data_dir: str | None) -> Path:
    """The conversations folder to score: --dataset, else the one the run's packed data came from."""
    from nanogpt_lab.data import dataset_dir

    root = data_dir or config.get('data_dir')
    if dataset:
        return dataset_dir(dataset, root)
    packed = dataset_dir(str(config.get('dataset')), root)
    if (packed / PACKED_FILE).is_file():
        return dataset_dir(Packed(packed).doc['conversations']['name'], root)
    return packed


@torch.no_grad()
def _masked_loss(model: Any, tokenizer: ChatTokenizer, conversations: list[dict]) -> tuple[float, int, int]:
    """Mean nats over every trained target of `conversations`, how many targets, and the characters they spell."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    rendered = [render_conversation(c['messages'], tokenizer) for c in conversations]
    for start in range(0, len(rendered), LOSS_BATCH):
        rows = rendered[start : start + LOSS_BATCH]
        t = max(len(ids) for ids, _ in rows) - 1
        x = torch.full((len(rows), t), tokenizer.end_id, dtype=torch.long)
        y = torch.full((len(rows), t), -1, dtype=torch.long)
        for r, (ids, mask) in enumerate(rows):  # padding is never a target
            x[r, : len(ids) - 1] = torch.tensor(ids[:-1])
            y[r, : len(ids) - 1] = torch.tensor(targets(ids, mask))
        _, loss = model(x.to(device), y.to(device))
        n = int((y != -1).sum())
        total, count = total + float(loss) * n, count + n
    chars = sum(len(m['content']) for c in conversations for m in c['messages'] if m['role'] == 'assistant')
    return total / count, count, chars


# --- report.json ----------------------------------------------------------------------------------------------------


def _lineage(out_dir: Path) -> list[dict[str, Any]]:
    """The models this run grew from, oldest first (evaluation.lineage), as JSON."""
    return [
        {'name': link.name, 'stage': link.stage, 'source': link.source, 'out_dir': str(link.run) if link.run else None}
        for link in lineage(out_dir)
    ]


def merge_report(out_dir: Path, scores: Scores, seconds: float) -> dict[str, Any]:
    """Merge these scores' sections into report.json (other tools' sections stay) and write it atomically."""
    source, config = scores.source, scores.config
    report = read_report(out_dir)
    best = source.get('best_val_loss')
    report.update(
        run={
            'out_dir': str(out_dir.resolve()),
            'run_id': out_dir.resolve().name,
            'iter_num': source.get('iter_num'),
            'best_val_loss': best if isinstance(best, float) and math.isfinite(best) and best < 1e9 else None,
            'init_from': config.get('init_from'),
            'dataset': config.get('dataset'),
            'chat': str(source.get('tokenizer', '')).startswith('chat'),
        },
        lineage=_lineage(out_dir),
        provenance={
            'source': 'live',
            'device': scores.device,
            'torch': torch.__version__,
            'evaluated_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
            'seconds': round(seconds, 1),
        },
    )
    report['losses'] = {**report.get('losses', {}), **scores.losses}
    report['tasks'] = {**report.get('tasks', {}), **scores.tasks}
    write_report(out_dir, report)
    return report


# --- what a person reads ----------------------------------------------------------------------------------------------


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a report (a job's end event): per dataset, bits per character and accuracy."""
    out: dict[str, Any] = {'report': str(Path(report['run']['out_dir']) / REPORT_FILE)}
    for name, loss in report.get('losses', {}).items():
        out[name] = {'nats_per_token': loss['nats_per_token'], 'bits_per_char': loss['bits_per_char']}
    for name, tasks in report.get('tasks', {}).items():
        out.setdefault(name, {})['accuracy'] = tasks['accuracy']
    return out


def report_lines(report: dict[str, Any], names: list[str] | None = None) -> list[str]:
    """The report as lines for a terminal: losses in every unit, accuracy overall and per task kind."""
    lines = []
    for name, loss in report.get('losses', {}).items():
        if names and name not in names:
            continue
        bpc = f'{loss["bits_per_char"]:.4f}' if loss['bits_per_char'] is not None else 'unknown'
        lines.append(
            f'{name}: val loss {loss["nats_per_token"]:.4f} nats/token = {loss["bits_per_token"]:.4f} bits/token '
            f'= {bpc} bits per character (bpc); {loss["what"]}'
        )
        tasks = report.get('tasks', {}).get(name)
        if tasks:
            right = sum(k['correct'] for k in tasks['kinds'].values())
            lines.append(
                f'{name}: exact-match accuracy {100 * tasks["accuracy"]:.1f}% ({right}/{tasks["conversations"]}), '
                f'mean over kinds {100 * tasks["macro_accuracy"]:.1f}%, {tasks["decoding"]}'
            )
            lines += [f'  {kind:<14} {100 * k["accuracy"]:5.1f}%  ({k["correct"]}/{k["total"]})'
                      for kind, k in tasks['kinds'].items()]  # fmt: skip
    lines.append(f'report: {Path(report["run"]["out_dir"]) / REPORT_FILE}')
    return lines
