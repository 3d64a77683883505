"""Pretrained vs fine-tuned, side by side: val loss and perplexity on the same data, a sample of each from the same
prompt and seed, and a per-token surprise heatmap of the same passage under each model.

The data is a comparison dict as `nanogpt-lab sim record` stores it (comparison.json of the fine-tuning asset):
`evaluation.before_after.compare_models(...)` plus each model's `inference.token_surprise` of one val passage. `measure`
makes the same dict live for the learner's own runs (it imports torch: run it in a worker thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.provenance import Provenance, provenance_label
from nanogpt_lab.ui.components.section import stat
from nanogpt_lab.ui.components.surprise_heatmap import legend_html, mean_surprise, surprise_heatmap
from nanogpt_lab.ui.i18n import Translator

PASSAGE_TOKENS = 120  # as the recorded comparison: the first 120 tokens of val.bin
PROMPT = 'ROMEO:'  # the recorded comparison's prompt and seed, so a live comparison reads like the recorded one
MAX_VAL_TOKENS = 16_384  # scored in real mode (GPT-2 on a CPU takes about a minute per 30k tokens)


def measure(base: str, tuned: str, dataset_dir: Path, device: str = 'cpu') -> dict[str, Any]:
    """Base vs fine-tuned on `dataset_dir`'s val.bin, now: the recorded comparison's shape (imports torch)."""
    import numpy as np

    from nanogpt_lab.evaluation.before_after import compare_models, load_model  # the same loading compare_models does
    from nanogpt_lab.inference import token_surprise
    from nanogpt_lab.tokenizers import tokenizer_for_dataset

    result = compare_models(
        base, tuned, dataset_dir, prompt=PROMPT, seed=1337, device=device, max_val_tokens=MAX_VAL_TOKENS
    )
    ids = np.fromfile(dataset_dir / 'val.bin', dtype=np.uint16)[:PASSAGE_TOKENS].tolist()
    passage = tokenizer_for_dataset(dataset_dir).decode(ids)
    for entry, source in zip(result['models'], (base, tuned), strict=True):
        loaded = load_model(source, str(dataset_dir.parent), device)
        entry['surprise'] = token_surprise(loaded.model, loaded.tokenizer, passage)
        entry['run'] = Path(source).name
    return {**result, 'passage': passage, 'max_val_tokens': MAX_VAL_TOKENS}


class before_after(ui.column):  # noqa: N801 - a NiceGUI component
    """Two columns (base, fine-tuned) from a comparison dict; `show(comparison, provenance)` redraws."""

    def __init__(self, *, tr: Translator, marker: str) -> None:
        super().__init__()
        self.tr, self.marker = tr, marker
        self.classes('w-full gap-3').mark(marker)

    def show(self, comparison: dict[str, Any], provenance: Provenance) -> None:
        """Draw both models' numbers, samples and surprise."""
        tr = self.tr
        self.clear()
        with self:
            provenance_label(provenance, tr)
            ui.label(
                tr(
                    'components.compare.same',
                    prompt=repr(comparison.get('prompt', '')),
                    seed=comparison.get('seed', ''),
                )
            ).classes(theme.CAPTION)
            with ui.element('div').classes(theme.GRID_2):
                for model in comparison.get('models', []):
                    self._column(model)
            ui.html(legend_html(tr), sanitize=False)  # escaped in legend_html

    def _column(self, model: dict[str, Any]) -> None:
        tr, name = self.tr, model.get('name', '?')
        with ui.card().classes(theme.CARD).props('flat bordered').mark(f'{self.marker}-{name}'):
            ui.label(tr(f'components.compare.{name}') if tr.has(f'components.compare.{name}') else name).classes(
                theme.CARD_TITLE
            )
            ui.label(str(model.get('run') or (model.get('source') or {}).get('path', ''))).classes(theme.CAPTION)
            with ui.row().classes('gap-6'):
                stat(tr('components.compare.val_loss'), f'{model["val_loss"]:.3f}', marker=f'{self.marker}-{name}-loss')
                if model.get('bits_per_char') is not None:  # comparisons recorded before bits per char lack it
                    stat(
                        tr('gpt1.units.bpc_axis'),
                        f'{model["bits_per_char"]:.3f}',
                        marker=f'{self.marker}-{name}-bpc',
                        hint=tr('gpt1.units.help'),
                    )
                stat(
                    tr('components.compare.perplexity'),
                    f'{model["perplexity"]:.1f}',
                    marker=f'{self.marker}-{name}-ppl',
                    hint=tr('components.compare.perplexity_help'),
                )
            ui.label(tr('components.compare.sample')).classes('text-sm font-semibold')
            sample = ui.label(model.get('sample', '')).classes(f'{theme.MONO} whitespace-pre-wrap text-xs')
            sample.props['translate'] = 'no'  # the model's text, in its own language
            sample.mark(f'{self.marker}-{name}-sample')
            tokens = model.get('surprise') or []
            mean = mean_surprise(tokens)
            heading = tr('components.compare.surprise', mean=f'{mean:.2f}' if mean is not None else '—')
            ui.label(heading).classes('text-sm font-semibold')
            surprise_heatmap(tokens, tr=tr, label=heading).mark(f'{self.marker}-{name}-surprise')
