"""Stage 2: one text, four tokenizers side by side (char, GPT-2 BPE, and a BPE and a SentencePiece unigram trained on
the text), what that means for a dataset's size, and a byte-pair-encoding merge replay on the learner's own text.

Tokenizing runs on the engine (`nanogpt_lab.tokenizers.compare_lanes`) in a worker thread, so typing never blocks
the page.
URL parameters: sample (shakespeare | zh | emoji | own), text (own text, when short), ws, merges, step.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from nicegui import run, ui

from nanogpt_lab.tokenizers.lanes import LANES, TRAINED_VOCAB
from nanogpt_lab.ui import dataset_stats, theme
from nanogpt_lab.ui.components import charts
from nanogpt_lab.ui.components.chart_card import chart_card
from nanogpt_lab.ui.components.provenance import Provenance
from nanogpt_lab.ui.components.section import note, section, stat
from nanogpt_lab.ui.components.token_view import TokenChip, token_view
from nanogpt_lab.ui.view import View

SAMPLES = ('shakespeare', 'zh', 'emoji')
CONTEXT = 256  # "a 256-token context holds about N characters of this text"
MAX_URL_TEXT = 600  # own text up to this many characters travels in the shared URL
MAX_TEXT = 20_000  # the box's limit: comparisons stay instant, and it is the BPE replay's comfortable size
MERGE_CHOICES = (50, 200, 500, 1000)
SEQUENCE_BYTES = 400  # the replay shows the tokens of the text's first bytes: enough to watch words fuse


@dataclass
class _State:
    """This tab's text and choices (mirrored in the URL)."""

    sample: str
    text: str
    show_ws: bool
    merges: int
    step: int
    comparisons: list[Any] = field(default_factory=list)
    steps: list[Any] = field(default_factory=list)
    replay_error: str | None = None


def create(view: View) -> None:
    """Fill stage 2's column."""
    TokenizersPage(view)


class TokenizersPage:
    """Stage 2's widgets and how they follow the text."""

    def __init__(self, view: View) -> None:
        self.view, self.tr = view, view.tr
        sample = view.param('sample', 'shakespeare', (*SAMPLES, 'own'))
        text = view.params.get('text', '')[:MAX_TEXT] if sample == 'own' else self.tr(f'tokenizers.samples.{sample}')
        merges = view.int_param('merges', 200, 1, max(MERGE_CHOICES))
        merges = merges if merges in MERGE_CHOICES else 200
        self.state = _State(
            sample, text, view.param('ws', '0', ('0', '1')) == '1', merges, view.int_param('step', 0, 0, 10**6)
        )
        self._generation = 0  # the newest text's number: results for older texts are dropped
        ui.label(self.tr('tokenizers.intro')).classes(theme.HELP)
        self._input_section()
        self._lanes_section()
        self._dataset_section()
        self._replay_section()
        ui.timer(0, self.recompute, once=True)

    # --- the text ------------------------------------------------------------------------------------------------

    def _input_section(self) -> None:
        tr, s = self.tr, self.state
        with section(tr('tokenizers.input.title'), tr('tokenizers.input.help')):
            with ui.row().classes('gap-2 items-center'):
                for sample in SAMPLES:
                    ui.button(
                        tr(f'tokenizers.input.sample_{sample}'), on_click=lambda _, k=sample: self._load_sample(k)
                    ).props('outline dense no-caps').mark(f'sample-{sample}')
                ui.switch(tr('tokenizers.input.show_ws'), value=s.show_ws, on_change=self._toggle_ws).mark('show-ws')
            self.textbox = (
                ui.textarea(value=s.text, on_change=self._typed)
                .props(f'outlined autogrow debounce=300 maxlength={MAX_TEXT} counter')
                .classes('w-full font-mono')
                .mark('text')
            )
            self.textbox.props['aria-label'] = tr('tokenizers.input.aria')

    def _load_sample(self, sample: str) -> None:
        self.state.sample = sample
        self.textbox.set_value(self.tr(f'tokenizers.samples.{sample}'))  # fires _typed

    def _typed(self, e: Any) -> None:
        text = e.value or ''
        self.state.sample = next((k for k in SAMPLES if self.tr(f'tokenizers.samples.{k}') == text), 'own')
        self.state.text = text
        self.state.step = 0
        ui.timer(0, self.recompute, once=True)

    def _toggle_ws(self, e: Any) -> None:
        self.state.show_ws = bool(e.value)
        self._draw_lanes()
        self._draw_step()
        self._share()

    def _share(self) -> None:
        s = self.state
        own = s.sample == 'own' and len(s.text) <= MAX_URL_TEXT
        self.view.share(
            sample=s.sample if s.sample != 'own' or own else 'shakespeare',
            text=s.text if own else None,
            ws='1' if s.show_ws else None,
            merges=s.merges,
            step=s.step or None,
        )

    async def recompute(self) -> None:
        """Tokenize the current text three ways and replay BPE on it, off the event loop; then redraw."""
        self._generation += 1
        generation, text, merges = self._generation, self.state.text, self.state.merges
        comparisons, replay = await asyncio.gather(
            run.io_bound(_compare, text), run.io_bound(_replay, text, merges, self.tr.lang)
        )
        if generation != self._generation or self.textbox.is_deleted:
            return  # the learner typed on; a newer result is on its way
        s = self.state
        s.comparisons = comparisons
        s.steps, s.replay_error = replay
        s.step = min(s.step, len(s.steps)) or min(1, len(s.steps))  # a new text starts at its first merge
        self._draw_lanes()
        self._draw_replay()
        self._share()

    # --- the four lanes ------------------------------------------------------------------------------------------

    def _lanes_section(self) -> None:
        tr = self.tr
        with section(tr('tokenizers.lanes.title'), tr('tokenizers.lanes.help')):
            self.lanes: dict[str, dict[str, Any]] = {}
            with ui.element('div').classes(theme.GRID_2):
                for lane in LANES:
                    self.lanes[lane] = self._lane(lane)
            columns = [
                ('tokenizer', tr('tokenizers.chart.col_tokenizer')),
                ('tokens', tr('tokenizers.chart.col_tokens')),
                ('cpt', tr('tokenizers.chart.col_cpt')),
                ('bpc', tr('tokenizers.chart.col_bpc')),
                ('context', tr('tokenizers.chart.col_context')),
            ]
            self.ratio_chart = chart_card(
                tr('tokenizers.chart.title'),
                charts.bar([], []),
                provenance=self._live(),
                summary='',
                columns=columns,
                rows=[],
                tr=tr,
                marker='ratio',
                height='h-48',
            )

    def _lane(self, lane: str) -> dict[str, Any]:
        tr = self.tr
        color = theme.TOKENIZER_COLORS[lane]
        with ui.card().classes(theme.CARD).props('flat bordered').style(f'border-top: 4px solid {color}') as card:
            card.mark(f'lane-{lane}')
            ui.label(tr(f'tokenizers.lanes.{lane}')).classes(theme.CARD_TITLE)
            ui.label(tr(f'tokenizers.lanes.{lane}_about', vocab=f'{TRAINED_VOCAB:,}')).classes(theme.CAPTION)
            with ui.row().classes('gap-4'):
                tokens = stat(tr('tokenizers.lanes.tokens'), '…', marker=f'lane-{lane}-tokens')
                cpt = stat(tr('tokenizers.lanes.cpt'), '…', marker=f'lane-{lane}-cpt')
                bpc = stat(tr('tokenizers.lanes.bpc'), '…', marker=f'lane-{lane}-bpc')
                bpc.tooltip(tr('tokenizers.lanes.bpc_help'))
            context = ui.label().classes('text-sm').mark(f'lane-{lane}-context')
            error = ui.label().classes(theme.ERROR_TEXT).mark(f'lane-{lane}-error')
            chips = token_view([], tr=tr).classes('max-h-80 overflow-auto').mark(f'lane-{lane}-chips')
        return {'tokens': tokens, 'cpt': cpt, 'bpc': bpc, 'context': context, 'error': error, 'chips': chips}

    def _draw_lanes(self) -> None:
        tr, s = self.tr, self.state
        for report in s.comparisons:
            lane = self.lanes[report.name]
            lane['tokens'].set(f'{report.n_tokens:,}')
            lane['cpt'].set(f'{report.chars_per_token:.2f}' if report.chars_per_token else '—')
            lane['bpc'].set(f'{report.bits_per_char:.2f}' if report.bits_per_char is not None else '—')
            holds = round(CONTEXT * report.chars_per_token) if report.chars_per_token else 0
            lane['context'].set_text(
                tr('tokenizers.lanes.context', n=CONTEXT, chars=f'{holds:,}', vocab=f'{report.vocab_size:,}')
            )
            problem = tr.coded(report.error_code, report.error_params, report.error)
            lane['error'].set_text(tr('tokenizers.lanes.error', message=problem) if report.error else '')
            chips = [TokenChip(t.text, t.id, t.bytes, t.partial) for t in report.tokens]
            lane['chips'].show(chips, show_whitespace=s.show_ws)
        self._draw_ratio_chart()

    def _draw_ratio_chart(self) -> None:
        tr, reports = self.tr, [r for r in self.state.comparisons if r.chars_per_token]
        names = [tr(f'tokenizers.lanes.{r.name}') for r in reports]
        values = [round(r.chars_per_token, 2) for r in reports]
        colors = [theme.TOKENIZER_COLORS[r.name] for r in reports]
        options = charts.colored_bar(names, values, colors, horizontal=True, value_name=tr('tokenizers.chart.axis'))
        rows = [
            {
                'tokenizer': n,
                'tokens': f'{r.n_tokens:,}',
                'cpt': f'{r.chars_per_token:.2f}',
                'bpc': f'{r.bits_per_char:.2f}',
                'context': f'{round(CONTEXT * r.chars_per_token):,}',
            }
            for n, r in zip(names, reports, strict=True)
        ]
        best = max(reports, key=lambda r: r.chars_per_token, default=None)
        summary = (
            tr(
                'tokenizers.chart.summary',
                best=tr(f'tokenizers.lanes.{best.name}'),
                cpt=f'{best.chars_per_token:.2f}',
                n=f'{best.n_tokens:,}',
                chars=f'{best.n_chars:,}',
            )
            if best
            else ''
        )
        self.ratio_chart.set_data(options, rows=rows, summary=summary, provenance=self._live())

    def _live(self) -> Provenance:
        return Provenance.live(self.tr('tokenizers.device'), self.tr('tokenizers.run'))

    # --- what it means for a dataset -----------------------------------------------------------------------------

    def _dataset_section(self) -> None:
        tr = self.tr
        with section(tr('tokenizers.dataset.title'), tr('tokenizers.dataset.help'), marker='dataset-consequence'):
            found = dataset_stats.shakespeare_pair(self.view.real, tr)
            if found is None:
                note(tr('tokenizers.dataset.missing'), marker='dataset-missing')
                ui.link(tr('tokenizers.dataset.go_prepare'), self.view.url('data'))
                return
            (char_stats, bpe_stats), provenance = found
            n_char, n_bpe = char_stats['tokens']['total'], bpe_stats['tokens']['total']
            ratio = f'{n_char / n_bpe:.2f}'
            summary = tr('tokenizers.dataset.summary', char=f'{n_char:,}', bpe=f'{n_bpe:,}', ratio=ratio)
            ui.label(summary).classes('text-base font-medium').mark('dataset-summary')
            self._dataset_chart(char_stats, bpe_stats, provenance, summary)
            vocab_bpe = f'{bpe_stats["vocab_size"]:,}'
            text = tr('tokenizers.dataset.tradeoff', vocab_char=char_stats['vocab_size'], vocab_bpe=vocab_bpe)
            ui.label(text).classes(theme.HELP)

    def _dataset_chart(self, char_stats: dict, bpe_stats: dict, provenance: Provenance, summary: str) -> None:
        """tiny Shakespeare's size in char tokens and in GPT-2 tokens, in the tokenizers' own colours."""
        tr = self.tr
        names = [tr('tokenizers.lanes.char'), tr('tokenizers.lanes.gpt2')]
        counts = [char_stats['tokens']['total'], bpe_stats['tokens']['total']]
        options = charts.colored_bar(names, counts, [theme.CHAR, theme.BPE], horizontal=True)
        columns = [
            ('tokenizer', tr('tokenizers.chart.col_tokenizer')),
            ('tokens', tr('tokenizers.chart.col_tokens')),
            ('vocab', tr('tokenizers.dataset.col_vocab')),
        ]
        rows = [
            {'tokenizer': name, 'tokens': f'{n:,}', 'vocab': f'{stats["vocab_size"]:,}'}
            for name, n, stats in zip(names, counts, (char_stats, bpe_stats), strict=True)
        ]
        chart_card(
            tr('tokenizers.dataset.chart'),
            options,
            provenance=provenance,
            summary=summary,
            columns=columns,
            rows=rows,
            tr=tr,
            marker='dataset-chart',
            height='h-40',
        )

    # --- BPE merge replay ----------------------------------------------------------------------------------------

    def _replay_section(self) -> None:
        tr, s = self.tr, self.state
        with section(tr('tokenizers.replay.title'), tr('tokenizers.replay.help'), marker='replay'):
            with ui.row().classes('items-center gap-3 w-full'):
                ui.label(tr('tokenizers.replay.merges')).classes('text-sm')
                ui.toggle(
                    {n: f'{n:,}' for n in MERGE_CHOICES},
                    value=s.merges,
                    on_change=self._set_merges,
                ).props('dense no-caps').mark('replay-merges')
            with ui.row().classes('items-center gap-3 w-full no-wrap'):
                ui.label(tr('tokenizers.replay.step')).classes('text-sm')
                self.scrubber = (
                    ui.slider(min=0, max=1, value=0, on_change=self._scrub).classes('flex-1').mark('replay-step')
                )
                self.scrubber.props('label snap')
                self.step_label = ui.label().classes('text-sm tabular-nums w-28 text-right').mark('replay-step-label')
            self.step_view = ui.column().classes('w-full gap-2').mark('replay-detail')
            columns = [
                ('rank', '#'),
                ('pair', tr('tokenizers.replay.col_pair')),
                ('count', tr('tokenizers.replay.col_count')),
                ('new_id', tr('tokenizers.replay.col_new_id')),
                ('length', tr('tokenizers.replay.col_length')),
            ]
            self.length_chart = chart_card(
                tr('tokenizers.replay.chart'),
                charts.line([], []),
                provenance=Provenance.live(tr('tokenizers.device'), tr('tokenizers.replay.run')),
                summary='',
                columns=columns,
                rows=[],
                tr=tr,
                marker='replay-chart',
            )

    def _set_merges(self, e: Any) -> None:
        self.state.merges = int(e.value)
        ui.timer(0, self.recompute, once=True)

    def _draw_sequence(self, vocab: dict[int, bytes], total: int) -> None:
        """The start of the text as the merges so far cut it: the sequence itself shrinking, chip by chip."""
        from nanogpt_lab.tokenizers import sequence_after

        s = self.state
        ids = sequence_after(s.text, s.steps[: s.step], max_bytes=SEQUENCE_BYTES)
        caption = self.tr('tokenizers.replay.sequence', shown=f'{len(ids):,}', total=f'{total:,}')
        ui.label(caption).classes(f'{theme.CAPTION} mt-2')
        chips = [_chip(vocab, i) for i in ids]
        token_view(chips, tr=self.tr, show_whitespace=True).mark('replay-sequence')

    def _scrub(self, e: Any) -> None:
        step = int(e.value or 0)
        if step != self.state.step:
            self.state.step = step
            self._draw_step()
            self._draw_length_chart()
            self._share()

    def _draw_replay(self) -> None:
        s = self.state
        self.scrubber.props['max'] = max(len(s.steps), 1)
        self.scrubber.set_value(s.step)
        self.scrubber.update()
        self._draw_step()
        self._draw_length_chart()

    def _draw_step(self) -> None:
        tr, s = self.tr, self.state
        n_bytes = len(s.text.encode('utf-8'))
        self.step_label.set_text(tr('tokenizers.replay.step_of', k=s.step, n=len(s.steps)))
        self.step_view.clear()
        with self.step_view:
            if s.replay_error:
                note(tr('tokenizers.replay.error', message=s.replay_error), kind='warn', marker='replay-error')
                return
            if len(s.steps) < s.merges:  # the engine stopped where no pair repeats: say so, not a silent "68 of 68"
                stopped = tr('tokenizers.replay.stopped', k=len(s.steps), merges=s.merges)
                ui.label(stopped).classes(theme.CAPTION).mark('replay-stopped')
            vocab = _vocab(s.steps)
            if not s.step:
                ui.label(tr('tokenizers.replay.start', n=f'{n_bytes:,}')).classes('text-sm').mark('replay-now')
                self._draw_sequence(vocab, n_bytes)
                return
            step = s.steps[s.step - 1]
            a, b = (_chip(vocab, i) for i in step.pair)
            new = TokenChip(step.text, step.new_id, step.token.hex(' '))
            with ui.row().classes('items-center gap-2'):
                token_view([a], tr=tr, show_whitespace=True, show_ids=True).classes('w-auto', remove='w-full')
                ui.label('+').classes('text-lg')
                token_view([b], tr=tr, show_whitespace=True, show_ids=True).classes('w-auto', remove='w-full')
                ui.label('→').classes('text-lg')
                token_view([new], tr=tr, show_whitespace=True, show_ids=True).classes('w-auto', remove='w-full').mark(
                    'replay-new-token'
                )
            ui.label(
                tr(
                    'tokenizers.replay.now',
                    count=f'{step.count:,}',
                    new_id=step.new_id,
                    length=f'{step.length:,}',
                    bytes=f'{n_bytes:,}',
                    ratio=f'{n_bytes / max(step.length, 1):.2f}',
                )
            ).classes('text-sm').mark('replay-now')
            self._draw_sequence(vocab, step.length)

    def _draw_length_chart(self) -> None:
        tr, s = self.tr, self.state
        n_bytes = len(s.text.encode('utf-8'))
        lengths = [n_bytes] + [st.length for st in s.steps]
        options = charts.line(
            list(range(len(lengths))),
            [charts.Series(tr('tokenizers.replay.col_length'), lengths, theme.BPE)],
            x_name=tr('tokenizers.replay.x'),
            y_name=tr('tokenizers.replay.y'),
            marker_x=s.step,
        )
        vocab = _vocab(s.steps)
        near = s.steps[max(0, s.step - 8) : s.step]
        rows = [
            {
                'rank': st.rank + 1,
                'pair': ' + '.join(repr(vocab[i].decode('utf-8', 'backslashreplace')) for i in st.pair)
                + f' → {st.text!r}',
                'count': st.count,
                'new_id': st.new_id,
                'length': f'{st.length:,}',
            }
            for st in near
        ]
        now = lengths[s.step] if s.step < len(lengths) else lengths[-1]
        summary = tr('tokenizers.replay.summary', bytes=f'{n_bytes:,}', k=s.step, length=f'{now:,}')
        self.length_chart.set_data(options, rows=rows, summary=summary)


def _compare(text: str) -> list[Any]:
    """The four lanes on this text, from the engine (a lane that cannot be built carries its reason)."""
    from nanogpt_lab.tokenizers import compare_lanes

    return compare_lanes(text, LANES, TRAINED_VOCAB)


def _replay(text: str, merges: int, lang: str) -> tuple[list[Any], str | None]:
    """Every merge step of a small BPE trained on the text, or the engine's reason it cannot (in `lang`)."""
    from nanogpt_lab.tokenizers import TokenizerError, bpe_merge_replay

    try:
        return list(bpe_merge_replay(text, merges)), None
    except TokenizerError as e:
        return [], e.message(lang)


def _chip(vocab: dict[int, bytes], token_id: int) -> TokenChip:
    """A token of the replay's vocabulary as a chip (a byte that splits a character shows as \\xNN)."""
    return TokenChip(vocab[token_id].decode('utf-8', 'backslashreplace'), token_id, vocab[token_id].hex(' '))


def _vocab(steps: list[Any]) -> dict[int, bytes]:
    """id -> bytes for the 256 byte tokens and every merged token so far (as the replay reports them)."""
    vocab = {i: bytes([i]) for i in range(256)}
    vocab.update({st.new_id: st.token for st in steps})
    return vocab
