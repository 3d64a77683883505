"""lab-preferences: preference pairs made from the lab's own tasks, answered by an SFT run, judged by checkers.

For each prompt of a task set (lab-tasks by default) the SFT model samples a few answers. Two checkers judge them:
- the task's own: the exact expected answer, and the turn ended there (as `nanogpt-lab eval` scores it). A correct
  answer is chosen over a wrong one; when no sample is correct, the task's own answer is chosen instead;
- a style preference the checker can judge: answer in the language asked (the script of the expected answer:
  Chinese characters or Latin letters). An answer in that script is chosen over one in the other.
Held-in (train) prompts give the training pairs, held-out (val) prompts the held-out pairs, so no evaluation prompt
is ever trained on. The pairs are a preference dataset like any other (`preferences.py`), labelled with the task
kind, the prompt's language and why the chosen answer won.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nanogpt_lab.alignment.conversations import read_conversations
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.preferences import Pair, write_preferences
from nanogpt_lab.alignment.template import ChatTokenizer, render_prompt
from nanogpt_lab.config import PreferencesConfig
from nanogpt_lab.data.progress import Progress
from nanogpt_lab.evaluation.tasks import answer_limit, is_correct, script
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.inference.catalog import BUNDLED
from nanogpt_lab.inference.sampler import generate_ids
from nanogpt_lab.messages import ref

VAL_SHARE = 0.3  # held-out prompts asked, as a share of the held-in ones


@dataclass(frozen=True)
class Sample:
    """One answer (up to the model's first special token, or cut at the room it had) and whether it was greedy."""

    text: str
    greedy: bool = False

    def correct(self, expected: str) -> bool:
        """The task's checker, as `nanogpt-lab eval` scores: exactly the expected answer (a run-on one is longer)."""
        return is_correct(self.text, expected)

    def in_script(self, want: str | None) -> bool:
        """The style checker: written in the script the expected answer is in."""
        return want is not None and script(self.text) == want


def _generate(model: Any, tokenizer: ChatTokenizer, prompt: list[int], k: int, room: int, temperature: float,
              generator: torch.Generator) -> list[Sample]:  # fmt: skip
    """k answers side by side in one batch, each cut at its first special token."""
    device = next(model.parameters()).device
    idx = torch.tensor([prompt] * k, dtype=torch.long, device=device)
    out = generate_ids(
        model, idx, room, temperature=temperature, generator=generator, vocab_size=tokenizer.vocab_size,
        stop_ids=tokenizer.stop_ids,
    )  # fmt: skip
    samples = []
    for row in out[:, len(prompt) :].tolist():
        stop = next((i for i, t in enumerate(row) if tokenizer.is_special(t)), None)
        samples.append(Sample(tokenizer.decode(row[:stop]), greedy=temperature == 0))
    return samples


@torch.no_grad()
def sample_answers(
    model: Any,
    tokenizer: ChatTokenizer,
    messages: list[dict[str, str]],
    k: int,
    limit: int,
    temperature: float,
    generator: torch.Generator,
) -> list[Sample]:
    """The greedy answer (the one evaluation scores) and k − 1 sampled at `temperature`, for one prompt."""
    prompt = render_prompt(messages, tokenizer)
    room = min(limit, model.config.block_size - len(prompt))
    if room <= 0:
        return []
    greedy = _generate(model, tokenizer, prompt, 1, room, 0.0, generator)
    return greedy + _generate(model, tokenizer, prompt, k - 1, room, temperature, generator)


def pairs_for(messages: list[dict[str, str]], expected: str, samples: Sequence[Sample], kind: str) -> list[Pair]:
    """Up to two pairs for one prompt: correct over wrong (the task's checker), right script over wrong (style).

    The rejected answer is the greedy one when it is wrong (the mistake evaluation sees), else the most common
    wrong sample; the chosen one is a correct sample, else the task's own answer.
    """
    prompt = tuple((m['role'], m['content']) for m in messages)
    labels = {'kind': kind, 'lang': script(messages[-1]['content']) or 'en'}
    right = [s.text for s in samples if s.correct(expected)]
    chosen, why = (right[0], 'correct') if right else (expected, 'task_answer')
    # a wrong answer that differs from the chosen one only by running on cannot be told apart in text
    wrong = [s for s in samples if not s.correct(expected) and s.text.strip() and s.text.strip() != chosen.strip()]
    counts = Counter(s.text for s in wrong)
    rejected = max(wrong, key=lambda s: (s.greedy, counts[s.text]), default=None)
    out = []
    if rejected is not None:
        out.append(Pair(prompt, chosen, rejected.text, labels={**labels, 'why': why}))
    want = script(expected)
    in_script = sorted((s for s in samples if s.in_script(want)), key=lambda s: not s.correct(expected))
    off_script = sorted((s for s in samples if script(s.text) not in (None, want)), key=lambda s: not s.greedy)
    if want and in_script and off_script:
        pair = Pair(prompt, in_script[0].text, off_script[0].text, labels={**labels, 'why': 'language'})
        if pair.chosen.strip() != pair.rejected.strip() and all(p.rejected != pair.rejected for p in out):
            out.append(pair)
    return out


def pick_prompts(conversations: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """n conversations spread evenly over the kinds (round robin), in a seeded order."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for c in conversations:
        by_kind.setdefault(c.get('kind', 'conversation'), []).append(c)
    rng = random.Random(seed)
    for convs in by_kind.values():
        rng.shuffle(convs)
    picked: list[dict[str, Any]] = []
    while len(picked) < n and any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(picked) < n:
                picked.append(by_kind[kind].pop())
    return picked


def build_pairs(
    model: Any,
    tokenizer: ChatTokenizer,
    conversations: list[dict[str, Any]],
    split: str,
    cfg: PreferencesConfig,
    emit: Emit = null_emit,
) -> tuple[list[Pair], dict[str, Any]]:
    """The pairs of one split, and what happened: prompts asked, answers correct, pairs by reason."""
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(cfg.seed)
    pairs: list[Pair] = []
    counts: Counter[str] = Counter()
    progress = Progress(emit, ref('progress.dpo_sampling', split=split), 'prompts', len(conversations))
    for i, conv in enumerate(conversations):
        messages, expected = conv['messages'][:-1], conv['messages'][-1]['content']
        limit = answer_limit(tokenizer, expected)
        answers = sample_answers(model, tokenizer, messages, cfg.samples, limit, cfg.temperature, generator)
        counts['answers'] += len(answers)
        counts['correct'] += sum(a.correct(expected) for a in answers)
        found = pairs_for(messages, expected, answers, conv.get('kind', 'conversation'))
        counts.update(f'pairs_{p.labels["why"]}' for p in found)
        pairs += found
        progress(i + 1)
    return pairs, {'prompts': len(conversations), **counts}


def answered_by(from_run: str) -> str:
    """Which model answered, as the dataset records it: a bundled model by its name, a run by its full path."""
    return from_run if from_run in BUNDLED else str(Path(from_run).expanduser().resolve())


def prepare_from_run(cfg: PreferencesConfig, folder: Path, emit: Emit = null_emit) -> dict[str, Any]:
    """`prepare lab-preferences --from=RUN`: the run answers the task set's prompts, the checkers label the answers;
    write `folder` and return its preferences.json."""
    from nanogpt_lab.data import dataset_dir
    from nanogpt_lab.hardware import resolve_device
    from nanogpt_lab.inference.loader import open_model

    model, tokenizer, _ = open_model(str(cfg.from_run), None, cfg.data_dir)
    if not isinstance(tokenizer, ChatTokenizer):
        raise AlignmentError('dpo.no_chat_template', key='from_run', init_from=cfg.from_run)
    model = model.to(resolve_device(cfg.device)).eval()
    tasks = dataset_dir(cfg.tasks, cfg.data_dir)
    splits: dict[str, list[Pair]] = {}
    stats: dict[str, Any] = {}
    for split, n in (('train', cfg.prompts), ('val', max(1, round(cfg.prompts * VAL_SHARE)))):
        prompts = pick_prompts(read_conversations(tasks, split), n, cfg.seed)
        splits[split], stats[split] = build_pairs(model, tokenizer, prompts, split, cfg, emit)
        emit_log(emit, 'log.dpo.lab_pairs', split=split, pairs=len(splits[split]), prompts=len(prompts),
                 correct=stats[split]['correct'], answers=stats[split]['answers'])  # fmt: skip
    if not splits['train']:
        raise AlignmentError('dpo.no_lab_pairs', key='prompts', run=cfg.from_run)
    source = {'kind': 'lab-preferences', 'from': answered_by(str(cfg.from_run)), 'tasks': cfg.tasks,
              'seed': cfg.seed, 'samples': cfg.samples, 'temperature': cfg.temperature, 'stats': stats}  # fmt: skip
    return write_preferences(folder, splits, source)
