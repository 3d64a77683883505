"""Direct Preference Optimization: the training loop of `training/trainer.py` on preference pairs.

Only what differs is here, as `Trainer` hooks, the way SFT does it:
- the data is a preference dataset rendered through the starting model's chat template (`_open_data`); the
  checkpoint names a folder beside the pairs that holds that vocabulary and names the pairs
  (`preferences.with_vocabulary`), as an SFT checkpoint names its packed folder, so nanoGPT's sample.py can decode
  a DPO model too (a resume follows it back to the pairs);
- the reference π_ref is the starting model itself, scored once on every pair before the first step and kept in
  `dpo_reference.pt` beside the checkpoint (`_score_reference`), so training holds a single model;
- a micro-step's loss is eq. 7's over a batch of pairs (`_batch_loss`), and the `train`/`eval` events carry the
  reward margin, the preference accuracy and the chosen/rejected log-prob drift from the reference.
Checkpoints, resume, Ctrl-C, DDP and progress are the trainer's own. The run DPO starts from is only read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from nanogpt_lab.alignment.dpo_loss import DpoTerms, chosen_nll, dpo_loss
from nanogpt_lab.alignment.errors import AlignmentError
from nanogpt_lab.alignment.pair_batches import (
    PairBatches,
    Rendered,
    answer_logps,
    collate,
    reference_logps,
    render_pairs,
)
from nanogpt_lab.alignment.preferences import load_info, load_split, pairs_folder, with_vocabulary
from nanogpt_lab.alignment.template import ChatTokenizer, load_chat, save_chat
from nanogpt_lab.config import DpoConfig
from nanogpt_lab.data import dataset_dir
from nanogpt_lab.errors import Coded
from nanogpt_lab.events import Emit, emit_log, null_emit
from nanogpt_lab.fileio import atomic_write_with
from nanogpt_lab.messages import ref
from nanogpt_lab.model.checkpoint import checkpoint_path
from nanogpt_lab.training.model_init import Start, check_vocab, init_model
from nanogpt_lab.training.trainer import Trainer, train

REFERENCE_FILE = 'dpo_reference.pt'  # π_ref's log-probabilities of every pair, and what they were computed on
SPLITS = ('train', 'val')


def dpo(cfg: DpoConfig, emit: Emit = null_emit, should_stop: Callable[[], bool] = lambda: False) -> dict:
    """Tune `cfg.init_from` (an SFT run) on the preference pairs `cfg.dataset` names; return the trainer's summary."""
    return train(cfg, emit, should_stop, trainer_class=DpoTrainer)


@dataclass
class DpoData:
    """What the trainer reads as data: the pairs of each split as tensors' ingredients, and their chat vocabulary."""

    folder: Path
    tokenizer: ChatTokenizer
    rendered: dict[str, Rendered]
    start_model: torch.nn.Module | None  # the model DPO starts from; None when resuming

    @property
    def meta_vocab_size(self) -> int:
        """The chat vocabulary size, which `check_vocab` holds the model to."""
        return self.tokenizer.vocab_size

    def fingerprint(self) -> str:
        """A hash of every rendered pair: cached reference scores are reused only for exactly these pairs."""
        h = hashlib.sha256()
        for split in SPLITS:
            for r in self.rendered[split].pairs:
                h.update(repr((split, r.x_w, r.y_w, r.x_l, r.y_l)).encode())
        return h.hexdigest()


class DpoTrainer(Trainer):
    """The trainer with preference pairs as data and eq. 7 as the loss."""

    # --- data and model ---------------------------------------------------------------------------------------

    def _open_data(self) -> DpoData:
        cfg = self.cfg
        if cfg.nanogpt_batches:
            raise AlignmentError('dpo.nanogpt_batches', key='nanogpt_batches')
        folder = _preferences_folder(cfg)
        if cfg.init_from == 'scratch':
            raise AlignmentError('dpo.needs_init_from', key='init_from')
        if cfg.init_from == 'resume':
            tokenizer, model = _resumed_tokenizer(cfg), None
            block_size = _resumed_block_size(cfg)
        else:
            model, tokenizer = _start_model(cfg)
            block_size = model.config.block_size
            if 'block_size' in cfg.model_fields_set:
                block_size = min(block_size, cfg.block_size)
        rendered = {s: render_pairs(load_split(folder, s), tokenizer, block_size, s) for s in SPLITS}
        if not rendered['train'].pairs:
            raise AlignmentError('dpo.no_train_pairs', key='dataset', dataset=folder.name)
        vocabulary = with_vocabulary(folder, tokenizer)  # every rank: the same name, written once (write_folder)
        # the checkpoint names the folder with the chat vocabulary: nanoGPT's sample.py reads data/<dataset>/meta.pkl
        self.cfg = cfg.model_copy(update={'dataset': vocabulary.name, 'data_dir': str(vocabulary.parent)})
        return DpoData(folder, tokenizer, rendered, model)

    def _init_model(self, resume_ckpt: dict | None) -> Start:
        data: DpoData = self.data
        if data.start_model is None:
            return init_model(self.cfg, data, resume_ckpt)
        model, data.start_model = data.start_model, None  # the trainer owns it now
        if 'block_size' in self.cfg.model_fields_set and self.cfg.block_size < model.config.block_size:
            model.crop_block_size(self.cfg.block_size)
        check_vocab(model.config, data)
        return Start(model, self.cfg.init_from)

    def _new_batches(self, seed: int | None) -> PairBatches:
        seed = self.cfg.seed if seed is None else seed
        return PairBatches(self.data.rendered['train'].pairs, self.cfg.batch_size, self.rt.device, seed)

    def _announce(self, source: str) -> None:
        super()._announce(source)
        if not self.dist.master:
            return
        data: DpoData = self.data
        if self.out_dir is not None:
            save_chat(self.out_dir, data.tokenizer)
        for split in SPLITS:
            r = data.rendered[split]
            emit_log(self.emit, 'log.dpo.pairs', split=split, pairs=len(r.pairs))
            if r.too_long or r.unknown_chars:
                emit_log(
                    self.emit,
                    'log.dpo.left_out_pairs',
                    'warning',
                    split=split,
                    block_size=self.block_size,
                    too_long=len(r.too_long),
                    unknown_chars=len(r.unknown_chars),
                    lines=r.left_out(),
                )
        if not data.rendered['val'].pairs:
            emit_log(self.emit, 'log.dpo.no_val', 'warning')

    # --- the reference ----------------------------------------------------------------------------------------

    def run(self) -> dict:
        """Score every pair with π_ref (the model as it starts), then train as the trainer does."""
        self.reference = self._score_reference()
        self.window: list[DpoTerms] = []
        return super().run()

    def _score_reference(self) -> dict[str, torch.Tensor]:
        """π_ref's log-probabilities per split: from `dpo_reference.pt` when it holds these pairs, else computed."""
        data: DpoData = self.data
        path = self.out_dir / REFERENCE_FILE if self.out_dir else None
        fingerprint = data.fingerprint()
        if path is not None and path.is_file():
            saved = torch.load(path, map_location='cpu', weights_only=True)
            if saved.get('fingerprint') == fingerprint:
                return {s: saved[s] for s in SPLITS}
        if self.resumed:
            raise AlignmentError('dpo.no_reference', key='init_from', path=self.out_dir, file=REFERENCE_FILE)
        self.phase = ref('training.phase.dpo_reference')
        scores = {
            s: reference_logps(self.raw_model, self._scored(s), self.cfg.batch_size, self.rt.device,
                               self.rt.autocast, self.emit)
            for s in SPLITS
        }  # fmt: skip
        if path is not None and self.dist.master:
            atomic_write_with(path, lambda f: torch.save({**scores, 'fingerprint': fingerprint}, f))
        return scores

    # --- the loss ---------------------------------------------------------------------------------------------

    def _terms(
        self, model: torch.nn.Module, split: str, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor
    ) -> DpoTerms:
        """Eq. 7 for the pairs `idx` of `split`, collated as x, y."""
        policy_logp_w, policy_logp_l = answer_logps(model, x, y)
        ref = self.reference[split][idx].to(policy_logp_w.device)
        terms = dpo_loss(policy_logp_w, policy_logp_l, ref[:, 0], ref[:, 1], self.cfg.beta)
        if self.cfg.rpo_alpha:
            tokens_w = (y[: len(idx)] != -1).sum(dim=1)
            terms = replace(terms, loss=terms.loss + self.cfg.rpo_alpha * chosen_nll(policy_logp_w, tokens_w))
        return terms

    def _batch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        terms = self._terms(self.model, 'train', self.batches.indices, x, y)
        self.window.append(terms)
        return terms.loss

    def _train_fields(self) -> dict[str, Any]:
        """The DPO figures averaged over the micro-steps since the last `train` event."""
        fields = _mean_metrics(self.window)
        self.window = []
        return fields

    def _scored(self, split: str) -> list:
        """The pairs π_ref scores: every training pair (batches draw from all), the held-out ones evaluations use."""
        pairs = self.data.rendered[split].pairs
        return pairs if split == 'train' else pairs[: self.cfg.eval_iters * self.cfg.batch_size]

    @torch.no_grad()
    def _estimate(self, split: str) -> float:
        """The DPO loss on a fixed set of pairs of `split` (eval_iters × batch_size at most); keeps the figures."""
        pairs_split = split if self.data.rendered[split].pairs else 'train'
        pairs = self.data.rendered[pairs_split].pairs[: self.cfg.eval_iters * self.cfg.batch_size]
        self.raw_model.eval()
        terms = []
        for start in range(0, len(pairs), self.cfg.batch_size):
            idx = torch.arange(start, min(start + self.cfg.batch_size, len(pairs)))
            x, y = collate(pairs[start : start + len(idx)], self.rt.device)
            with self.rt.autocast():
                terms.append(self._terms(self.raw_model, pairs_split, idx, x, y))
        self.raw_model.train()
        self.eval_figures = getattr(self, 'eval_figures', {})
        self.eval_figures[split] = _mean_metrics(terms)
        losses = [float(t.loss) * len(t.reward_w) for t in terms]
        return sum(losses) / len(pairs)

    def _eval_fields(self) -> dict[str, Any]:
        """train_/val_ DPO figures for the `eval` event."""
        return {f'{split}_{k}': v for split, figures in self.eval_figures.items() for k, v in figures.items()}


def _mean_metrics(terms: list[DpoTerms]) -> dict[str, float]:
    """Pair-weighted means of each figure over several batches."""
    if not terms:
        return {}
    n = sum(len(t.reward_w) for t in terms)
    keys = terms[0].metrics()
    return {k: round(sum(t.metrics()[k] * len(t.reward_w) for t in terms) / n, 6) for k in keys}


def _preferences_folder(cfg: DpoConfig) -> Path:
    folder = pairs_folder(dataset_dir(cfg.dataset, cfg.data_dir))  # a DataError names a bad name
    load_info(folder)  # refuses a folder that holds no preference pairs, saying how to make them
    return folder


def _start_model(cfg: DpoConfig) -> tuple[torch.nn.Module, ChatTokenizer]:
    """The SFT model DPO starts from, and its chat vocabulary; a model without a chat template is refused."""
    from nanogpt_lab.inference.loader import open_model

    source = Path(cfg.init_from).expanduser()
    if cfg.out_dir and checkpoint_path(source).resolve() == checkpoint_path(Path(cfg.out_dir)).resolve():
        raise AlignmentError('dpo.out_dir_is_start', key='out_dir', out_dir=cfg.out_dir)
    try:
        model, tokenizer, _ = open_model(cfg.init_from, None, cfg.data_dir, dropout=cfg.dropout)
    except AlignmentError:
        raise
    except (ValueError, OSError) as e:
        reason = ref(e.code, **e.params) if isinstance(e, Coded) else str(e)
        raise AlignmentError('dpo.bad_start', key='init_from', init_from=cfg.init_from, reason=reason) from None
    if not isinstance(tokenizer, ChatTokenizer):
        raise AlignmentError('dpo.no_chat_template', key='init_from', init_from=cfg.init_from)
    return model, tokenizer


def _resumed_block_size(cfg: DpoConfig) -> int:
    """The context of the model a resumed run trains, as its config.json recorded it (before loading the weights)."""
    from nanogpt_lab.evaluation.lineage import run_config

    args = (run_config(Path(str(cfg.out_dir))).get('resolved') or {}).get('model_args') or {}
    return int(args.get('block_size') or cfg.block_size)


def _resumed_tokenizer(cfg: DpoConfig) -> ChatTokenizer:
    tokenizer = load_chat(cfg.out_dir) if cfg.out_dir else None
    if tokenizer is None:
        raise AlignmentError('dpo.not_dpo_run', key='out_dir', path=cfg.out_dir)
    return tokenizer
