"""Stage 6's two ways of seeing more text: several samples side by side (one per seed, all else equal) and a
conversation (the transcript so far is the prompt; the model continues until a blank line).

Both draw tokens through the page's `SamplerSession` and take turns with the page's own generator: the page is
their `Host` (its session, settings and busy flag).
"""

from __future__ import annotations

from typing import Any, Protocol

from nicegui import run, ui

from nanogpt_lab.config import SamplingSettings
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.sampled_text import sampled_text
from nanogpt_lab.ui.components.sampler_session import SamplerSession, streamed
from nanogpt_lab.ui.i18n import Translator

SAMPLES_SIDE_BY_SIDE = 3
TRANSCRIPT_CHARS = 4000  # the conversation's tail the model sees


class Host(Protocol):
    """What the panels need from stage 6's page."""

    session: SamplerSession
    prompt: str
    prompt_ids: list[int] | None
    seed: int
    stop_asked: bool

    @property
    def knobs(self) -> SamplingSettings: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def busy(self) -> bool: ...

    def set_busy(self, busy: bool) -> None: ...


class sample_columns(ui.column):  # noqa: N801 - a NiceGUI component
    """A button and one column per seed."""

    def __init__(self, *, tr: Translator, host: Host) -> None:
        super().__init__()
        self.tr, self.host = tr, host
        self.classes('w-full gap-2')
        with self:
            run_label = tr('inference.samples.run', n=SAMPLES_SIDE_BY_SIDE)
            self.button = ui.button(run_label, icon='view_column', on_click=self._samples).props('outline no-caps')
            self.button.mark('run-samples')
            with ui.element('div').classes(theme.GRID_3):
                self.columns = []
                for i in range(SAMPLES_SIDE_BY_SIDE):
                    with ui.card().classes(theme.CARD).props('flat bordered').mark('sample-column'):
                        heading = ui.label(tr('inference.samples.seed', seed=host.seed + i)).classes(theme.CARD_TITLE)
                        self.columns.append((heading, sampled_text(tr=tr)))

    async def _samples(self) -> None:
        """The same prompt and settings, one sample per seed: only the random draws differ."""
        host = self.host
        if host.busy or host.prompt_ids is None:
            return
        host.set_busy(True)
        try:
            for i, (heading, text) in enumerate(self.columns):
                heading.set_text(self.tr('inference.samples.seed', seed=host.seed + i))
                await self._one(host.seed + i, text)
        finally:
            host.set_busy(False)

    async def _one(self, seed: int, text: sampled_text) -> None:
        host, events = self.host, []
        ids, knobs, n = list(host.prompt_ids or []), host.knobs, host.max_tokens

        def show(event: dict[str, Any]) -> None:
            events.append(event)
            text.show(host.prompt, events)

        await streamed(lambda emit: host.session.run(ids, knobs, n, emit, lambda: host.stop_asked, seed=seed), show)


class chat_panel(ui.column):  # noqa: N801 - a NiceGUI component
    """The conversation: your lines on the right, the model's replies on the left, an input and Send."""

    def __init__(self, *, tr: Translator, host: Host) -> None:
        super().__init__()
        self.tr, self.host, self.transcript = tr, host, ''
        self.classes('w-full gap-2')
        with self:
            # items-stretch: each bubble spans the row, so a sent one sits on the right with its name beside it
            self.log = ui.column().classes('w-full gap-1 max-h-96 overflow-y-auto items-stretch').mark('chat-log')
            with ui.row().classes('w-full items-center no-wrap gap-2'):
                self.input = ui.input(tr('inference.chat.placeholder')).props('outlined dense').classes('flex-1')
                self.input.mark('chat-input').on('keydown.enter', self._send)
                self.button = ui.button(tr('inference.chat.send'), icon='send', on_click=self._send)
                self.button.props('unelevated no-caps').mark('chat-send')

    async def _send(self) -> None:
        """The conversation so far plus the new line is the prompt; the model continues until a blank line."""
        host, line = self.host, (self.input.value or '').strip()
        if not line or host.busy or host.session.loaded is None:
            return
        self.input.value = ''
        self.transcript += line + '\n'
        with self.log:
            ui.chat_message(line, name=self.tr('inference.chat.you'), sent=True).mark('chat-mine')
            reply = ui.chat_message(name=self.tr('inference.chat.model')).mark('chat-reply')
        try:
            ids = await run.io_bound(host.session.encode, self.transcript[-TRANSCRIPT_CHARS:])
        except ValueError as e:
            with reply:
                ui.label(self.tr('inference.prompt_error', message=self.tr.error(e)))
            return
        await self._reply(ids, reply)

    async def _reply(self, ids: list[int], reply: ui.chat_message) -> None:
        host, pieces = self.host, []
        host.set_busy(True)
        with reply:
            label = ui.label().classes('whitespace-pre-wrap font-mono text-sm').mark('chat-reply-text')
        knobs, n = host.knobs, host.max_tokens

        def show(event: dict[str, Any]) -> None:
            pieces.append(event['text'])
            label.set_text(''.join(pieces).lstrip('\n'))  # the line break that ends your line is not the reply

        try:
            await streamed(
                lambda emit: host.session.run(ids, knobs, n, emit, lambda: host.stop_asked, stop=('\n\n',)), show
            )
        finally:
            self.transcript += ''.join(pieces) + '\n'
            host.set_busy(False)
