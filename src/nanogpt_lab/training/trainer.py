"""The training loop: nanoGPT's train.py as one readable class, reporting through events instead of print.

Per iteration, as nanoGPT: set the learning rate; every eval_interval evaluate (rank 0) and maybe checkpoint;
then gradient accumulation over micro-batches, clipping, an AdamW step. Differences, each for a reason:
- the last iteration is evaluated too (nanoGPT trains one extra step after its last eval and never saves it);
- evaluation uses the same batches every time (a fixed seed), so successive val losses compare like with like;
- a resumed run restores the RNG streams too, so it reports the same losses an uninterrupted run would;
- NaN losses, out-of-memory, a full disk and Ctrl-C each end the run with a message and a usable checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from nanogpt_lab import cpu_kernels, cpu_threads, hardware, workspace
from nanogpt_lab.config import SAMPLE_TEMPERATURE, SAMPLE_TOP_K, TrainConfig
from nanogpt_lab.evaluation.bits import bits_per_char, split_chars_per_token
from nanogpt_lab.evaluation.loss import estimate_loss
from nanogpt_lab.events import Cancelled, Emit, emit_log, null_emit
from nanogpt_lab.fileio import atomic_write_bytes, atomic_write_text, remove_stale_temp_files
from nanogpt_lab.messages import ref, render
from nanogpt_lab.model.checkpoint import CKPT_NAME, save_checkpoint
from nanogpt_lab.tokenizers import VOCAB_FILES, vocab_file
from nanogpt_lab.training import ddp
from nanogpt_lab.training import resume_state as resume
from nanogpt_lab.training.batches import Batches, eval_batches, open_data
from nanogpt_lab.training.compute import compile_pays_off, make_runtime, peak_flops, time_steps
from nanogpt_lab.training.faults import (
    TrainingError,
    is_finite,
    is_out_of_memory,
    non_finite,
    out_of_memory,
    save_failed,
)
from nanogpt_lab.training.loggers import MetricLoggers
from nanogpt_lab.training.model_init import Start, inherit_resume_settings, init_model, with_model_shape
from nanogpt_lab.training.optimizers import make_optimizer
from nanogpt_lab.training.schedule import get_lr
from nanogpt_lab.workspace import RUN_CONFIG_NAME

log = logging.getLogger(__name__)

STOP_CANCEL, STOP_EARLY = 1, 2  # 0 goes on; agreed across ranks with a max: early stopping outranks a cancel
# what the trainer writes (atomically) in out_dir
RUN_FILES = (CKPT_NAME, workspace.BEST_NAME, RUN_CONFIG_NAME, *VOCAB_FILES)


def train(
    cfg: TrainConfig,
    emit: Emit = null_emit,
    should_stop: Callable[[], bool] = lambda: False,
    trainer_class: type[Trainer] | None = None,
) -> dict:
    """Train (or fine-tune, or evaluate) as `cfg` says; return a summary. Raises Cancelled after saving on a stop.

    `trainer_class` swaps the data and model set-up of the same loop (SFT: alignment.sft.SFTTrainer).
    """
    dist = ddp.from_env()
    threads = torch.get_num_threads()  # `threads` applies to this run only: a notebook or server keeps its own
    device = ddp.setup(dist, hardware.resolve_device(cfg.device), cfg.backend)
    cfg, inherited, resume_ckpt = inherit_resume_settings(cfg)
    if inherited and dist.master:
        emit_log(emit, 'log.resume_settings', keys=', '.join(inherited))
    trainer = None
    try:
        trainer = (trainer_class or Trainer)(
            cfg, dist, device, emit if dist.master else null_emit, should_stop, resume_ckpt
        )
        del resume_ckpt  # the model and optimizer hold its tensors now: no second copy for the whole run
        return trainer.run()
    except Exception as e:
        if is_out_of_memory(e):
            where = trainer.phase if trainer else ref('training.phase.building')
            raise out_of_memory(cfg, device, where) from None
        raise
    finally:
        if trainer is not None:
            trainer.loggers.close()
        ddp.teardown(dist)
        torch.set_num_threads(threads)


class Trainer:
    """One run's state: model, optimizer, data stream, counters; `run()` is the loop.

    A subclass changes what is trained on, not how: `_open_data`, `_init_model`, `_new_batches`, `_eval_batches`;
    and what a batch's loss is and what the events add (`_batch_loss`, `_train_fields`, `_eval_fields`: DPO).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        dist: ddp.Distributed,
        device: str,
        emit: Emit,
        should_stop: Callable[[], bool],
        resume_ckpt: dict | None = None,
    ):
        self.cfg, self.dist, self.emit, self.should_stop = cfg, dist, emit, should_stop
        self.stepped = False  # no optimizer step yet: until the first, each phase is announced as it begins
        self.phase = ref('training.phase.building')  # what the run was doing, for an out-of-memory message
        self.rt = make_runtime(cfg, dist, device)
        self.out_dir = Path(cfg.out_dir) if cfg.out_dir else None
        self._remove_stale_temps()
        self._enter('training.phase.reading_data')
        self.data = self._open_data()
        self._enter('training.phase.building')
        start = self._init_model(resume_ckpt)
        self.cfg = cfg = with_model_shape(self.cfg, start.model.config)  # recorded as trained, never as asked
        self.raw_model = start.model.to(device)
        self.block_size = self.raw_model.config.block_size  # a resumed or fine-tuned model fixes its context
        self.iter_num = self.start_iter = start.iter_num
        self.best_val_loss = start.best_val_loss
        self.resumed = start.resumed
        self.optimizer = make_optimizer(self.raw_model, cfg, self.rt.device_type)
        if start.optimizer_state:
            self._load_optimizer(start.optimizer_state)
        self.tokens_per_iter = cfg.batch_size * self.block_size * cfg.gradient_accumulation_steps
        own_stream = None if cfg.nanogpt_batches else cfg.seed + dist.rank
        self.batches = self._new_batches(own_stream)
        if own_stream is not None or dist.rank:  # nanoGPT's stream continues from the model's initialisation
            torch.manual_seed(cfg.seed + dist.rank)  # the dropout stream, different on each rank as in nanoGPT
        self._restore(start.resume_state)
        self.stop_reason: dict | None = None  # a message ref: why a run stopped early
        self.last = {'train_loss': None, 'val_loss': None}
        self.model, self.compiled = self._wrap(self._decide_compile())
        self.peak = peak_flops(self.rt) if dist.master else None
        self.loggers = MetricLoggers(cfg, self.out_dir or Path('.'), enabled=dist.master)
        # characters per token of each split: losses also go out in bits per character, the unit that compares
        # tokenizers fairly (evaluation/bits.py); None where the data cannot tell
        self.chars_per_token = {s: split_chars_per_token(self.data.folder, s) for s in ('train', 'val')}
        self._announce(start.source)

    # --- what is trained on (a subclass's hooks) -------------------------------------------------------------------

    def _open_data(self) -> Any:
        """The dataset folder and its vocabulary."""
        return open_data(self.cfg)

    def _init_model(self, resume_ckpt: dict | None) -> Start:
        """The model to train and where the run picks up (`resume_ckpt`: the checkpoint, when already read)."""
        return init_model(self.cfg, self.data, resume_ckpt)

    def _new_batches(self, seed: int | None) -> Batches:
        """A stream of training batches (seed None: torch's global stream, nanoGPT's order)."""
        return Batches(self.data, self.cfg.batch_size, self.block_size, self.rt.device, seed)

    def _eval_batches(self, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The fixed batches one evaluation of `split` averages over."""
        cfg = self.cfg
        return eval_batches(self.data, split, cfg.eval_iters, cfg.batch_size, self.block_size, self.rt.device, cfg.seed)

    def _batch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One micro-batch's loss: the model's mean cross-entropy on its targets (DPO scores pairs instead)."""
        _, loss = self.model(x, y)
        return loss

    def _train_fields(self) -> dict[str, Any]:
        """Fields a subclass adds to each `train` event (DPO: reward margin, preference accuracy, drift)."""
        return {}

    def _eval_fields(self) -> dict[str, Any]:
        """Fields a subclass adds to each `eval` event."""
        return {}

    # --- set-up helpers -------------------------------------------------------------------------------------------

    def _enter(self, code: str, **params: Any) -> None:
        """Name what the run does now (an out-of-memory message says where it ran out); until the first step is
        done each phase is also a log line, so a page shows why the first numbers take a while."""
        self.phase = ref(code, **params)
        if not self.stepped:
            emit_log(self.emit, 'log.phase', phase=self.phase)

    def _remove_stale_temps(self) -> None:
        """A killed run leaves its half-written checkpoint temp files behind; this run is now their only writer."""
        if self.out_dir is None or not self.dist.master:
            return
        removed = [p.name for name in RUN_FILES for p in remove_stale_temp_files(self.out_dir / name)]
        if removed:
            log.info('removed stale temp files in %s: %s', self.out_dir, ', '.join(removed))
            emit_log(self.emit, 'log.stale_temps', n=len(removed))

    def _load_optimizer(self, saved: dict) -> None:
        try:
            resume.load_optimizer_state(self.optimizer, saved, (self.cfg.beta1, self.cfg.beta2), self.cfg.weight_decay)
        except (ValueError, KeyError) as e:
            raise TrainingError('training.optimizer_mismatch', detail=str(e)) from None

    def _restore(self, resume_state: dict[str, Any]) -> None:
        """RNG streams and counters of an interrupted run, or fresh streams for a checkpoint without them."""
        self.tokens = int(resume.counter(resume_state, 'tokens', self.iter_num * self.tokens_per_iter))
        self.evals_since_best = int(resume.counter(resume_state, 'evals_since_best', 0))
        if self.rt.scaler.is_enabled() and 'grad_scale' in (resume_state or {}):
            # float16: continue from the loss scale the run had found, not from 65536 again
            scale = float(resume_state['grad_scale'])
            self.rt.scaler = torch.amp.GradScaler(self.rt.device_type, init_scale=scale, enabled=True)
        if self.resumed and not resume.restore(
            resume_state, self.dist.rank, self.dist.world_size, self.batches.generator, self.rt.device
        ):
            # nanoGPT's checkpoints (or another world size): new streams, but not the ones iteration 0 drew
            self.batches.generator.manual_seed(self.cfg.seed + self.dist.rank + self.iter_num)
            torch.manual_seed(self.cfg.seed + self.dist.rank + self.iter_num)
            log.info('checkpoint has no RNG state for this world size: batches reseeded')

    def _decide_compile(self) -> tuple[bool, dict]:
        """Whether to torch.compile, and why: `compile=auto` times a micro-step and weighs it against compile time."""
        remaining = self.cfg.max_iters - self.iter_num
        step_s = None
        if self.cfg.compile == 'auto' and remaining > 0 and not self.cfg.eval_only:
            step_s = self._probe_step_time() * self.rt.grad_accum
        yes = compile_pays_off(self.cfg, self.rt.device_type, remaining, step_s) and not self.cfg.eval_only
        yes = bool(ddp.agree(int(yes), self.dist, self.rt.device))  # every rank must wrap the same way
        if self.cfg.compile != 'auto':
            return yes, ref('log.compile.fixed', value=self.cfg.compile)
        ms = round(1000 * (step_s or 0))
        return yes, ref('log.compile.auto', steps=remaining, ms=ms, device=self.rt.device_type)

    def _probe_step_time(self) -> float:
        """Seconds per eager forward+backward micro-step, on a throwaway batch, leaving every RNG stream untouched."""
        probe = self._new_batches(self.cfg.seed)
        x, y = probe.next()

        def step() -> None:
            with self.rt.autocast():
                _, loss = self.raw_model(x, y)
            loss.backward()

        with torch.random.fork_rng(devices=[self.rt.device] if self.rt.device_type == 'cuda' else []):
            seconds = time_steps(step, n=1)
        self.optimizer.zero_grad(set_to_none=True)
        return seconds

    def _wrap(self, decision: tuple[bool, dict]) -> tuple[torch.nn.Module, bool]:
        """The module the loop calls: compiled if decided, inside DDP under torchrun."""
        compiled, why = decision
        model: torch.nn.Module = self.raw_model
        if compiled:
            emit_log(self.emit, 'log.compiling', why=why)
            model = torch.compile(model)
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.dist.local_rank] if self.rt.device_type == 'cuda' else None
            model = DDP(model, device_ids=ids)
        self.compile_why = why
        return model, compiled

    def _announce(self, source: str) -> None:
        """config.json, the run's own copy of its dataset's vocabulary file, and the start-up log lines."""
        if not self.dist.master:
            return
        n_params = self.raw_model.get_num_params()
        resolved = {
            'device': self.rt.device,
            'dtype': self.rt.dtype,
            'compile': self.compiled,
            'compile_why': render(self.compile_why['code'], self.compile_why['params']),
            'world_size': self.dist.world_size,
            'grad_accum_per_rank': self.rt.grad_accum,
            'tokens_per_iter': self.tokens_per_iter,
            'threads': torch.get_num_threads(),
            'cpu_threads': choice.reason if (choice := cpu_threads.chosen()) else None,
            'cpu_kernels': kernels.reason if (kernels := cpu_kernels.chosen()) else None,
            'init_from': source,
            'model_args': self.raw_model.config.model_dump(),
            'parameters': n_params,
            'data': str(self.data.folder),
            'chars_per_token': self.chars_per_token,
            'torch': torch.__version__,
        }
        if self.out_dir is not None:
            config = {**self.cfg.model_dump(), 'resolved': resolved}
            try:
                atomic_write_text(self.out_dir / RUN_CONFIG_NAME, json.dumps(config, indent=2, default=str))
                vocab = vocab_file(self.data.folder)
                if vocab is not None:  # a run folder that carries its vocabulary samples and exports without the data
                    atomic_write_bytes(self.out_dir / vocab.name, vocab.read_bytes())
            except OSError as e:
                raise TrainingError('training.run_folder', path=self.out_dir, reason=e.strerror or str(e)) from None
        if choice and self.rt.device_type == 'cpu':
            emit_log(self.emit, 'log.cpu_threads.chosen', **choice.params)
        if kernels and self.rt.device_type == 'cpu':
            emit_log(self.emit, kernels.why['code'], **kernels.why['params'])
        if hardware.emulated_dtype(self.rt.dtype, self.rt.device):
            emit_log(self.emit, 'log.slow_dtype', level='warning', dtype=self.rt.dtype)
        emit_log(
            self.emit,
            'log.model_built',
            source=source,
            millions=f'{n_params / 1e6:.2f}',
            tokens=self.tokens_per_iter,
            device=self.rt.device,
            dtype=self.rt.dtype,
            why=self.compile_why,
            compiled=ref('log.compile.compiled' if self.compiled else 'log.compile.not_compiled'),
        )

    # --- the loop -------------------------------------------------------------------------------------------------

    def run(self) -> dict:
        """Iterate until max_iters, early stopping or a stop request; return the summary for the `end` event."""
        cfg = self.cfg
        self.batches.prefetch()  # nanogpt_batches: the first batch is drawn before the first evaluation, as there
        self._reset_clock()
        while True:
            lr = get_lr(self.iter_num, cfg)
            for group in self.optimizer.param_groups:
                group['lr'] = lr * group.get('lr_scale', 1.0)  # Muon's matrices run at muon_lr's share
            if self._eval_due():
                self._enter('training.phase.evaluating', iter=self.iter_num)
                self._evaluate(lr)
                if cfg.eval_only:
                    return self._summary(ref('training.stop.eval_only'))
            if self.iter_num >= cfg.max_iters:
                return self._summary()
            stop = ddp.agree(STOP_EARLY if self.stop_reason else int(self.should_stop()), self.dist, self.rt.device)
            if stop == STOP_EARLY:
                return self._summary(self.stop_reason or ref('training.stop.rank0'))
            if stop == STOP_CANCEL:
                self._cancel()
            self._enter('training.phase.training', iter=self.iter_num)
            loss_sum, grad_norm = self._step()
            self.stepped = True
            self.tokens += self.step_tokens
            if self.iter_num % cfg.log_interval == 0 and self.dist.master:
                self._log_train(loss_sum, grad_norm, lr)
            self.last_loss = loss_sum
            self.iter_num += 1

    def _reset_clock(self) -> None:
        """Start timing steps from here: speed is averaged between `train` events, evaluations excluded."""
        self.clock, self.clock_iter, self.clock_tokens = time.perf_counter(), self.iter_num, self.tokens

    def _eval_due(self) -> bool:
        if self.cfg.eval_only:
            return True
        if self.resumed and self.iter_num == self.start_iter:
            return False  # the checkpoint we resume from was written right after evaluating here
        return self.iter_num % self.cfg.eval_interval == 0 or self.iter_num == self.cfg.max_iters

    def _step(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One optimizer step over grad_accum micro-batches; returns the mean micro-batch loss and the grad norm."""
        rt, cfg = self.rt, self.cfg
        loss_sum = torch.zeros((), device=rt.device)
        positions = 0
        for micro_step in range(rt.grad_accum):
            x, y = self.batches.next()
            positions += x.numel()  # batch × block here; SFT's batches are as long as their longest conversation
            last = micro_step == rt.grad_accum - 1
            # DDP averages gradients across ranks; between micro-steps there is nothing to average yet
            sync = contextlib.nullcontext() if last or not self.dist.active else self.model.no_sync()
            with sync:
                with rt.autocast():
                    # the sum of the micro-steps' gradients is their mean's
                    loss = self._batch_loss(x, y) / rt.grad_accum
                self.batches.prefetch()
                rt.scaler.scale(loss).backward()
            loss_sum += loss.detach()
        grad_norm = None
        if cfg.grad_clip != 0.0:
            rt.scaler.unscale_(self.optimizer)  # clip the true gradients, not the fp16-scaled ones
            foreach = True if rt.device_type in ('cpu', 'cuda') else None
            grad_norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), cfg.grad_clip, foreach=foreach)
        rt.scaler.step(self.optimizer)
        rt.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)  # free the gradients' memory until the next backward
        self.step_tokens = positions * self.dist.world_size
        return loss_sum, grad_norm

    def _log_train(self, loss_sum: torch.Tensor, grad_norm: torch.Tensor | None, lr: float) -> None:
        """A `train` event: loss, speed (averaged since the last one, evaluations excluded), MFU, memory."""
        lossf = float(loss_sum.item())  # a device sync: timings below are real, not queued work
        if not is_finite(lossf):
            raise non_finite(ref('training.loss.train'), lossf, self.iter_num, self._kept())
        now = time.perf_counter()
        iters = max(1, self.iter_num + 1 - self.clock_iter)
        dt = (now - self.clock) / iters
        tokens_per_s = (self.tokens - self.clock_tokens) / (now - self.clock)
        self.clock, self.clock_iter, self.clock_tokens = now, self.iter_num + 1, self.tokens
        mfu = None
        if self.peak:
            flops = self.raw_model.flops_per_token(self.block_size) * tokens_per_s
            mfu = flops / (self.peak * self.dist.world_size)
            if mfu > 1:  # faster than the peak: the peak is wrong, and an MFU of 100% or more would be nonsense
                self._drop_peak(flops)
                mfu = None
        self.emit(
            'train',
            iter=self.iter_num,
            max_iters=self.cfg.max_iters,
            loss=round(lossf, 6),
            bpc=self._bpc(lossf, 'train'),
            lr=lr,
            dt_ms=round(dt * 1000, 3),
            tokens_per_s=round(tokens_per_s, 1),
            mfu=mfu,
            mem_bytes=hardware.memory_in_use(self.rt.device),
            tokens=self.tokens,
            grad_norm=float(grad_norm) if grad_norm is not None else None,
            **self._train_fields(),
        )
        self.loggers.train(self.iter_num, lossf, lr, mfu)

    def _drop_peak(self, flops: float) -> None:
        """Stop reporting MFU against a peak this run beat; a measured CPU peak is measured afresh next time."""
        achieved, peak = f'{flops / 1e9:.1f}', f'{self.peak / 1e9:.1f}'
        emit_log(self.emit, 'log.peak_exceeded', level='warning', achieved=achieved, peak=peak)
        if self.rt.device_type == 'cpu':
            hardware.distrust_cpu_peak(self.rt.dtype)
        self.peak = None

    # --- evaluation and checkpoints -------------------------------------------------------------------------------

    def _evaluate(self, lr: float) -> None:
        """Rank 0 estimates train and val loss, keeps the best, checkpoints and checks for early stopping."""
        rng = ddp.gather(resume.rng_states(self.batches.generator, self.rt.device), self.dist)  # every rank joins
        if not self.dist.master:
            return
        cfg, it = self.cfg, self.iter_num
        losses = {split: self._estimate(split) for split in ('train', 'val')}
        for split, value in losses.items():
            if not is_finite(value):
                raise non_finite(ref(f'training.loss.{split}'), value, it, self._kept())
        improved = losses['val'] < self.best_val_loss
        self.best_val_loss = min(self.best_val_loss, losses['val'])
        self.evals_since_best = 0 if improved else self.evals_since_best + 1
        saved = (improved or cfg.always_save_checkpoint) and it > 0 and not cfg.eval_only
        if saved:
            self._save(rng)
        self.last = {'train_loss': losses['train'], 'val_loss': losses['val']}
        self.emit(
            'eval',
            iter=it,
            train_loss=round(losses['train'], 6),
            val_loss=round(losses['val'], 6),
            train_bpc=self._bpc(losses['train'], 'train'),
            val_bpc=self._bpc(losses['val'], 'val'),
            best_val_loss=round(self.best_val_loss, 6),
            tokens=self.tokens,
            saved=saved,
            **self._eval_fields(),
        )
        self.loggers.eval(it, losses['train'], losses['val'], lr)
        if cfg.eval_sample_tokens:
            self._sample()
        patience = cfg.early_stopping_patience
        if patience and self.evals_since_best >= patience and it < cfg.max_iters:
            self.stop_reason = ref(
                'training.stop.early',
                patience=patience,
                best=f'{self.best_val_loss:.4f}',
                now=f'{losses["val"]:.4f}',
                iter=it,
            )
        self._reset_clock()  # evaluation time is not step time

    def _bpc(self, loss: float, split: str) -> float | None:
        """A loss in nats per token as bits per character of that split's text."""
        cpt = self.chars_per_token[split]
        return round(bits_per_char(loss, cpt), 6) if cpt else None

    def _estimate(self, split: str) -> float:
        """nanoGPT's estimate_loss for one split, on the uncompiled model and this split's fixed batches (or, with
        nanogpt_batches, on fresh draws from the training stream, as nanoGPT)."""
        if self.cfg.nanogpt_batches:
            batches = (self.batches.draw(split) for _ in range(self.cfg.eval_iters))
        else:
            batches = self._eval_batches(split)
        return estimate_loss(self.raw_model, batches, self.rt.autocast)

    def _save(self, rng: list[dict[str, torch.Tensor]]) -> None:
        """Write ckpt.pt atomically: nanoGPT's six keys, our RNG streams inside `config` where nanoGPT never looks."""
        if self.out_dir is None:
            return
        counters = {'tokens': self.tokens, 'evals_since_best': self.evals_since_best}
        resume_state = resume.pack(rng, counters)
        if self.rt.scaler.is_enabled():
            resume_state['grad_scale'] = torch.tensor(self.rt.scaler.get_scale())
        config = {**self.cfg.model_dump(), 'resume_state': resume_state}
        try:
            save_checkpoint(
                self.out_dir,
                model=self.raw_model,
                optimizer=self.optimizer,
                model_args=self.raw_model.config,
                iter_num=self.iter_num,
                best_val_loss=self.best_val_loss,
                config=config,
            )
        except OSError as e:
            raise save_failed(str(self.out_dir / CKPT_NAME), e) from None

    def _kept(self) -> dict:
        """Which checkpoint survives a failed run."""
        path = self.out_dir / CKPT_NAME if self.out_dir else None
        if path is not None and path.is_file():
            return ref('training.kept.checkpoint', path=str(path))
        return ref('training.kept.none')

    def _cancel(self) -> None:
        """A stop request: save where we are (if anything was trained) so `init_from=resume` continues; raise."""
        rng = ddp.gather(resume.rng_states(self.batches.generator, self.rt.device), self.dist)
        kept, saved = None, None
        trained = self.iter_num > self.start_iter
        if self.dist.master and trained and is_finite(float(self.last_loss.item())) and self.out_dir is not None:
            best = self.out_dir / CKPT_NAME
            if not self.cfg.always_save_checkpoint and best.is_file():
                # ckpt.pt held the best val loss; keep that model as best.pt, since the stop point replaces it
                atomic_write_bytes(self.out_dir / workspace.BEST_NAME, best.read_bytes())
                kept = ref('training.stopped.best_kept', name=workspace.BEST_NAME)
            self._save(rng)
            saved = ref('training.stopped.saved', path=str(self.out_dir))
        parts = [p for p in (kept, saved) if p]
        if parts:
            raise Cancelled('training.stopped.with', iter=self.iter_num, parts=parts)
        raise Cancelled('training.stopped.plain', iter=self.iter_num)

    def _sample(self) -> None:
        """A `sample` event: a short continuation from the model as it is now, without touching training's RNG."""
        from nanogpt_lab.inference.sampler import generate_ids
        from nanogpt_lab.tokenizers import prompt_ids, tokenizer_for_dataset

        tokenizer = tokenizer_for_dataset(self.data.folder)
        start = prompt_ids(tokenizer, '') or [_first_id(tokenizer)]
        generator = torch.Generator(device=self.rt.device).manual_seed(self.cfg.seed)
        idx = torch.tensor([start], dtype=torch.long, device=self.rt.device)
        self.raw_model.eval()
        with self.rt.autocast():
            out = generate_ids(
                self.raw_model,
                idx,
                self.cfg.eval_sample_tokens,
                temperature=SAMPLE_TEMPERATURE,
                top_k=SAMPLE_TOP_K,
                generator=generator,
                vocab_size=getattr(tokenizer, 'vocab_size', None),
            )
        self.raw_model.train()
        self.emit('sample', iter=self.iter_num, text=tokenizer.decode(out[0, 1:].tolist()))

    def _summary(self, reason: dict | None = None) -> dict:
        """What the worker puts in the `end` event."""
        out = {
            'out_dir': str(self.out_dir) if self.out_dir else None,
            'iter_num': self.iter_num,
            'best_val_loss': self.best_val_loss if self.best_val_loss < 1e9 else None,
            'tokens': self.tokens,
            **self.last,
            'device': self.rt.device,
            'dtype': self.rt.dtype,
            'compiled': self.compiled,
        }
        if reason:  # the English for the API and the CLI, the code for pages
            out['reason'], out['reason_code'], out['reason_params'] = render(**reason), reason['code'], reason['params']
            emit_log(self.emit, reason['code'], **reason['params'])
        self._warn_if_nothing_kept()
        return out

    def _warn_if_nothing_kept(self) -> None:
        """Best-only saving (a fine-tune's default) keeps nothing when no evaluation beat iteration 0's: say so,
        or the learner looks for a model that was never written."""
        if self.out_dir is None or not self.dist.master or self.cfg.eval_only or (self.out_dir / CKPT_NAME).is_file():
            return
        emit_log(self.emit, 'log.no_checkpoint', 'warning', path=str(self.out_dir), best=f'{self.best_val_loss:.4f}')


def _first_id(tokenizer: Any) -> int:
    """A char model starts its samples at a newline, as nanoGPT's sample.py; id 0 when the text had none."""
    try:
        return tokenizer.encode('\n')[0]
    except (ValueError, IndexError):
        return 0
