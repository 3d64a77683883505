"""What a job shows in a terminal: a rich progress bar with rate and ETA, eval lines, warnings and the end."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TerminalProgress:
    """An event listener (DESIGN §4 events) that draws progress on stderr and prints results on stdout."""

    def __init__(self) -> None:
        self.err = Console(stderr=True, soft_wrap=True)  # a message stays one line, however narrow the terminal
        self.out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self.progress = Progress(
            TextColumn('[bold]{task.description}'),
            BarColumn(),
            TextColumn('{task.completed:,.0f}/{task.total:,.0f} {task.fields[unit]}'),
            TextColumn('{task.fields[info]}'),
            TimeElapsedColumn(),
            TextColumn('ETA'),
            TimeRemainingColumn(),
            console=self.err,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.shown_error: str | None = None

    def __enter__(self) -> TerminalProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _task(self, name: str, total: float | None, unit: str) -> TaskID:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=total, unit=unit, info='')
        return self.tasks[name]

    def __call__(self, event: dict) -> None:
        kind = event.get('type')
        if kind == 'progress':
            task = self._task(event.get('label') or 'progress', event.get('total'), event.get('unit', ''))
            self.progress.update(task, completed=event.get('done', 0), total=event.get('total'))
        elif kind == 'train':
            task = self._task('train', event.get('max_iters'), 'iters')
            info = f'loss {event.get("loss", float("nan")):.4f}'
            if event.get('tokens_per_s'):
                info += f', {event["tokens_per_s"]:,.0f} tok/s'
            if event.get('mfu') is not None:
                info += f', mfu {100 * event["mfu"]:.2f}%'
            self.progress.update(task, completed=event.get('iter', 0), total=event.get('max_iters'), info=info)
        elif kind == 'eval':
            self.out.print(
                f'step {event.get("iter")}: train loss {event.get("train_loss", float("nan")):.4f}, '
                f'val loss {event.get("val_loss", float("nan")):.4f}'
            )
        elif kind == 'sample':
            self.out.print(f'[sample @ {event.get("iter")}]\n{event.get("text", "")}', markup=False)
        elif kind == 'log':
            if event.get('level') == 'error':
                return  # the failure is said once, by the `end` event that follows
            if event.get('level') == 'warning':
                self.err.print(f'warning: {event.get("message", "")}', markup=False)
            else:
                self.out.print(event.get('message', ''), markup=False)
        elif kind == 'end' and event.get('status') != 'succeeded':
            self.err.print(f'{event.get("status")}: {event.get("error") or ""}', markup=False)
