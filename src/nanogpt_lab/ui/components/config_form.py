"""A training config form: each control shows its nanoGPT key and a help line, the basic ones in view and the rest
folded; the equivalent `nanogpt-lab train ...` command (and its torchrun form) is kept live with a copy button; and
every change is checked by `config.build`, so an invalid combination is flagged on its field before Start.

The form holds a whole TrainConfig's values (the controls edit some of them); `config` is the validated config or
None, `error` the ConfigError that says why not. Stages 4 (train) and 5 (finetune) build it with their own fields.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from nanogpt_lab.config import PRESETS, ConfigError, TrainConfig, build
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator

SHAPE_KEYS = ('n_layer', 'n_head', 'n_embd')  # fixed by a GPT-2 preset; editable for `custom`
NEVER_SHOWN = ('out_dir', 'data_dir', 'wandb_log', 'wandb_project', 'wandb_run_name', 'tensorboard_log', 'threads')


@dataclass(frozen=True)
class Field:
    """One control: the TrainConfig key it edits, what kind of control, whether it is in view, its choices."""

    key: str
    kind: str  # int | float | choice | bool
    basic: bool = False
    options: tuple[Any, ...] = ()


# The choices of each choice control; every other control's kind (int, float, bool) is its TrainConfig type.
CHOICES: dict[str, tuple[Any, ...]] = {
    'model': ('custom', *PRESETS),
    'dataset': (),  # the datasets the page offers (config_form's `datasets`)
    'device': ('auto', 'cpu', 'cuda', 'mps'),
    'dtype': ('auto', 'float32', 'bfloat16', 'float16'),
    'compile': ('auto', True, False),
    'ln_position': ('pre', 'post'),
}


def fields(basic: Sequence[str], more: Sequence[str] = ()) -> tuple[Field, ...]:
    """The controls for these TrainConfig keys, `basic` in view and `more` folded, each kind defined once here."""
    return tuple(_field(key, True) for key in basic) + tuple(_field(key, False) for key in more)


def _field(key: str, basic: bool) -> Field:
    if key in CHOICES:
        return Field(key, 'choice', basic, CHOICES[key])
    kind = TrainConfig.model_fields[key].annotation
    assert kind in (int, float, bool), f'{key}: add its choices to CHOICES'
    return Field(key, kind.__name__, basic)


# Stage 4's form: nanoGPT's README CPU command in view, the rest of train.py's keys folded.
TRAIN_FIELDS = fields(
    basic=('model', 'n_layer', 'n_head', 'n_embd', 'dataset', 'batch_size', 'block_size', 'gradient_accumulation_steps',
           'learning_rate', 'max_iters', 'device', 'eval_interval'),
    more=('dtype', 'compile', 'eval_iters', 'warmup_iters', 'lr_decay_iters', 'min_lr', 'dropout', 'weight_decay',
          'ln_position', 'eval_sample_tokens', 'seed', 'nanogpt_batches'),
)  # fmt: skip


def defaults(base: dict[str, Any] | None = None) -> dict[str, Any]:
    """TrainConfig's own defaults (nanoGPT's train.py), with `base` on top (e.g. the fine-tuning defaults)."""
    out = {k: f.default for k, f in TrainConfig.model_fields.items()}
    return {**out, **(base or {})}


def changed(values: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values that differ from the defaults: what a command line or a job request needs to say."""
    ref = defaults(base)
    skip = SHAPE_KEYS if values.get('model', 'custom') in PRESETS else ()
    return {k: v for k, v in values.items() if k not in skip and k not in NEVER_SHOWN and v != ref.get(k)}


def _flag(key: str, value: Any) -> str:
    text = f'{value:g}' if isinstance(value, float) else str(value)
    return shlex.quote(f'--{key}={text}')


def command_line(kind: str, values: dict[str, Any], base: dict[str, Any] | None = None) -> str:
    """`nanogpt-lab train --key=value ...`: only the keys that differ from the defaults, in the form's order."""
    return ' '.join(['nanogpt-lab', kind, *(_flag(k, v) for k, v in changed(values, base).items())])


def torchrun_line(kind: str, values: dict[str, Any], nproc: int, base: dict[str, Any] | None = None) -> str:
    """The same run on `nproc` processes under torchrun, as `nanogpt-lab train --nproc_per_node=N` launches it."""
    from nanogpt_lab.training.ddp import torchrun_command  # torch-free: builds the argument list only

    args = [f'--{k}={v:g}' if isinstance(v, float) else f'--{k}={v}' for k, v in changed(values, base).items()]
    cmd = torchrun_command(kind, args, nproc, None)
    return ' '.join(['torchrun', *(shlex.quote(a) for a in cmd[3:])])  # `python -m torch.distributed.run` = torchrun


def check(values: dict[str, Any]) -> tuple[TrainConfig | None, ConfigError | None]:
    """The validated config, or the ConfigError naming the key (and rule) at fault."""
    try:
        return build(TrainConfig, values), None
    except ConfigError as e:
        return None, e


class config_form(ui.column):  # noqa: N801 - a NiceGUI component
    """`config_form(fields, values, tr=..., marker=..., kind='train')`; `.config` is valid or None, `.error` why."""

    def __init__(
        self,
        fields: Sequence[Field],
        values: dict[str, Any],
        *,
        tr: Translator,
        marker: str,
        kind: str = 'train',
        base: dict[str, Any] | None = None,
        datasets: Sequence[str] = (),
        extra_check: Callable[[TrainConfig], ConfigError | None] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.tr, self.marker, self.kind, self.base = tr, marker, kind, base
        self.fields = {f.key: f for f in fields}
        self.values = {k: v for k, v in values.items() if k in TrainConfig.model_fields}
        self.datasets = tuple(dict.fromkeys([*datasets, str(self.values.get('dataset', ''))]))
        self.extra_check, self.on_change = extra_check, on_change
        self.controls: dict[str, Any] = {}
        self.shape_boxes: list[ui.column] = []  # layers, heads, width: shown for a custom shape only
        self.config: TrainConfig | None = None
        self.error: ConfigError | None = None
        self.classes('w-full gap-3').mark(marker)
        with self:
            with ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-2 xl:grid-cols-4 gap-x-4 gap-y-2'):
                for f in fields:
                    if f.basic:
                        self._control(f)
            more = ui.expansion(tr('components.config.more')).classes('w-full').props('dense').mark(f'{marker}-more')
            with (
                more,
                ui.element('div').classes('w-full grid grid-cols-1 md:grid-cols-2 xl:grid-cols-4 gap-x-4 gap-y-2'),
            ):
                for f in fields:
                    if not f.basic:
                        self._control(f)
            self.problem = ui.label().classes(theme.ERROR_TEXT).mark(f'{marker}-error')
            self.problem.props['role'] = 'alert'
            with ui.row().classes('w-full items-center gap-2 no-wrap') as self.decay_row:
                ui.icon('warning').style(f'color: {theme.WARN}')
                self.decay_warning = ui.label().classes('text-sm').mark(f'{marker}-lr-decay')
                fix = ui.button(tr('walk.run.lr_decay_fix'), on_click=self._decay_to_end).props('flat dense no-caps')
                fix.mark(f'{marker}-lr-decay-fix')
            self.nproc = 2
            _, self.command = self._command_box('command', tr('components.config.command'))
            self.torchrun_heading, self.torchrun = self._command_box('torchrun', tr('components.config.torchrun', n=2))
        self.validate()

    # --- controls --------------------------------------------------------------------------------------------------

    def _control(self, f: Field) -> None:
        tr = self.tr
        with ui.column().classes('gap-0 w-full') as box:
            with ui.row().classes('items-baseline gap-2 no-wrap'):
                ui.label(tr(f'components.config.{f.key}.label')).classes('text-sm font-medium')
                ui.label(f.key).classes('font-mono text-xs text-indigo-700 bg-indigo-50 rounded px-1')
            control = self._input(f)
            control.classes('w-full').props('dense outlined').mark(f'{self.marker}-{f.key}')
            control.props['aria-label'] = f'{tr(f"components.config.{f.key}.label")} ({f.key})'
            ui.label(self._help(f.key)).classes(f'{theme.CAPTION} leading-snug')
        self.controls[f.key] = control
        if f.key in SHAPE_KEYS:
            self.shape_boxes.append(box)
            box.set_visibility(self.custom_shape)

    def _input(self, f: Field) -> Any:
        value = self.values.get(f.key)
        update = lambda e, key=f.key: self.set_value(key, e.value)  # noqa: E731
        if f.kind == 'choice':
            options = self.datasets if f.key == 'dataset' else f.options
            labels = {o: self._option_label(f.key, o) for o in options}
            return ui.select(labels, value=value if value in labels else options[0], on_change=update)
        if f.kind == 'bool':
            return ui.switch(value=bool(value), on_change=update)
        step = 1 if f.kind == 'int' else None
        # the whole config is checked on each change (validate): NiceGUI's own per-field check would clear its mark
        return ui.number(value=value, step=step, on_change=update).without_auto_validation()

    def _help(self, key: str) -> str:
        """A field's help, in this form's own words where its kind has them (an SFT dataset is conversations)."""
        own = f'components.config.{key}.help_{self.kind}'
        return self.tr(own if self.tr.has(own) else f'components.config.{key}.help')

    def _option_label(self, key: str, option: Any) -> str:
        name = f'components.config.{key}.options.{str(option).lower()}'
        return self.tr(name) if self.tr.has(name) else str(option)

    def _command_box(self, name: str, title: str) -> tuple[ui.label, ui.label]:
        with ui.column().classes('w-full gap-1'):
            heading = ui.label(title).classes('text-sm font-semibold')
            with ui.row().classes('w-full items-start no-wrap gap-2 rounded-md bg-gray-900 px-3 py-2'):
                text = ui.label().classes('font-mono text-xs text-gray-100 break-all flex-1')
                text.mark(f'{self.marker}-{name}')
                ui.button(icon='content_copy', on_click=lambda: self._copy(text.text)).props(
                    f'flat dense round size=sm color=white aria-label="{self.tr("components.config.copy")}"'
                ).mark(f'{self.marker}-{name}-copy')
        return heading, text

    def _copy(self, text: str) -> None:
        ui.clipboard.write(text)
        ui.notify(self.tr('components.config.copied'), type='positive', timeout=1500)

    # --- state ----------------------------------------------------------------------------------------------------

    @property
    def custom_shape(self) -> bool:
        """Whether layers, heads and width are the learner's to choose (not fixed by a GPT-2 preset)."""
        return self.values.get('model', 'custom') == 'custom'

    def set_value(self, key: str, value: Any) -> None:
        """Change one value (from its control, or from elsewhere on the page) and check the whole config again."""
        f = self.fields.get(key)
        if f is not None and f.kind == 'int' and isinstance(value, float) and value.is_integer():
            value = int(value)
        self.values[key] = value
        if key == 'model':
            self.values.update(PRESETS.get(value, {}))
            for box in self.shape_boxes:
                box.set_visibility(self.custom_shape)
        control = self.controls.get(key)
        if control is not None and control.value != value:
            control.value = value
        self.validate()
        if self.on_change is not None:
            self.on_change()

    def offer_dataset(self, name: str) -> None:
        """A dataset prepared while the page is open becomes one of the choices, and the one chosen."""
        self.datasets = tuple(dict.fromkeys([*self.datasets, name]))
        control = self.controls.get('dataset')
        if control is not None:
            control.set_options({o: self._option_label('dataset', o) for o in self.datasets})
        self.set_value('dataset', name)

    def set_processes(self, nproc: int) -> None:
        """How many processes the torchrun form shows (the DDP explainer's N)."""
        self.nproc = max(1, int(nproc))
        self.validate()

    def validate(self) -> None:
        """Check the config; mark the field at fault; refresh the commands."""
        for control in self.controls.values():
            if hasattr(control, 'error'):
                control.error = None
        self.config, self.error = check(self.values)
        if self.config is not None and self.extra_check is not None:
            self.error = self.extra_check(self.config)
            self.config = None if self.error else self.config
        self.problem.set_text(
            self.tr('components.config.invalid', message=self.tr.error(self.error)) if self.error else ''
        )
        for key in self._keys_at_fault():  # outlined in red; the message itself is the alert under the form
            control = self.controls[key]
            if hasattr(control, 'error'):
                control.error = ''
        self.command.set_text(command_line(self.kind, self.values, self.base))
        self._torchrun_text()
        self._decay_text()

    def _decay_text(self) -> None:
        """A schedule that never finishes: lr_decay_iters beyond max_iters keeps the rate above min_lr to the end."""
        cfg = self.config
        never = cfg is not None and cfg.decay_lr and cfg.lr_decay_iters > cfg.max_iters
        self.decay_row.set_visibility(bool(never))
        if never:
            self.decay_warning.set_text(
                self.tr('walk.run.lr_decay', decay=f'{cfg.lr_decay_iters:,}', max=f'{cfg.max_iters:,}')
            )

    def _decay_to_end(self) -> None:
        self.set_value('lr_decay_iters', self.values.get('max_iters'))

    def _keys_at_fault(self) -> list[str]:
        """The fields to mark: the key the error names, and any other shown key its rule mentions (n_embd, n_head)."""
        if self.error is None:
            return []
        named = [k for k in self.controls if re.search(rf'\b{k}\b', str(self.error))]
        return list(dict.fromkeys([k for k in (self.error.key,) if k in self.controls] + named))

    def _torchrun_text(self) -> None:
        """The torchrun form of the command. Each process must take a whole share of the accumulation steps, so
        where they do not divide, each process keeps the single-process micro-steps (and the line says so)."""
        self.torchrun_heading.set_text(self.tr('components.config.torchrun', n=self.nproc))
        values, note = self.values, ''
        accum = self.values.get('gradient_accumulation_steps')
        if isinstance(accum, int) and accum > 0 and accum % self.nproc:
            values = {**self.values, 'gradient_accumulation_steps': accum * self.nproc}
            note = '\n# ' + self.tr('walk.run.torchrun_accum', accum=accum, new=accum * self.nproc, n=self.nproc)
        line = torchrun_line(self.kind, values, self.nproc, self.base) + note
        _, problem = check({**values, 'nproc_per_node': self.nproc})
        if problem is not None and self.error is None:
            line += '\n# ' + self.tr('components.config.torchrun_problem', message=self.tr.error(problem))
        self.torchrun.set_text(line)

    def request(self) -> dict[str, Any]:
        """The job request: every value that differs from the defaults (the job applies the same defaults)."""
        return changed(self.values, self.base)
