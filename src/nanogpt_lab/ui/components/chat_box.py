"""Stage 7's chat: a real multi-turn chat with a model that speaks the chat template, answers streamed token by token.

- A system message, regenerate (the last answer again, another seed), stop, and a fresh start.
- "Same message, two models": beside each answer, the base model (the same template attached, nothing learned)
  continuing your words as plain text — what pretraining alone makes of them.
- "Two answers" (Teach it): two samples A and B for one message; the learner picks the better one or skips, and
  each pick is appended as a preference pair to a named dataset (`chat_session.save_pick`), whose count is shown.

Generation runs in a worker thread through the engine's chat generator (`ChatSession`, `streamed`); the page's
event loop only draws the tokens as they come.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from nicegui import run, ui

from nanogpt_lab import workspace
from nanogpt_lab.config import SamplingSettings
from nanogpt_lab.errors import LabError
from nanogpt_lab.ui import theme
from nanogpt_lab.ui.components.chat_session import (
    CHAT_DEFAULTS,
    DEFAULT_PICKS,
    ChatSession,
    pick_count,
    save_pick,
)
from nanogpt_lab.ui.components.sampler_session import streamed
from nanogpt_lab.ui.i18n import Translator

TEMPERATURES = (0.0, 0.3, 0.6, 1.0, 1.5)
BUBBLE_TEXT = 'whitespace-pre-wrap text-sm'


class chat_box(ui.column):  # noqa: N801 - a NiceGUI component
    """`chat_box(tr=..., session=..., ready=...)`: `ready()` waits for the session's model (False: it failed to load,
    and the box says why); `on_picks(name, count)` hears the preference dataset change."""

    def __init__(
        self,
        *,
        tr: Translator,
        session: ChatSession,
        ready: Callable[[], Awaitable[bool]],
        on_picks: Callable[[str, int], None] | None = None,
        picks: str = DEFAULT_PICKS,
    ) -> None:
        super().__init__()
        self.tr, self.session, self.ready, self.on_picks = tr, session, ready, on_picks
        self.history: list[dict[str, str]] = []
        self.seed = 1337
        self.busy, self.stop_asked = False, False
        self.picks = picks
        self.classes('w-full gap-2').mark('chat7')
        with self:
            self._settings_row()
            self._teach_row()
            self.log = ui.column().classes('w-full gap-1 max-h-[32rem] overflow-y-auto items-stretch')
            self.log.mark('chat7-log')
            self.choice = ui.column().classes('w-full gap-2').mark('choice')
            self.choice.set_visibility(False)
            self._input_row()
            self.status = ui.label().classes(theme.CAPTION).mark('chat7-status')
            self.status.props['role'] = 'status'
        self._buttons()

    # --- layout -------------------------------------------------------------------------------------------------

    def _settings_row(self) -> None:
        tr = self.tr
        with ui.row().classes('w-full items-center gap-3'):
            self.system = ui.input(tr('alignment.chat.system'), placeholder=tr('alignment.chat.system_hint'))
            self.system.props('outlined dense clearable').classes('flex-1 min-w-[16rem]').mark('chat7-system')
            temperatures = {t: f'{t:g}' for t in TEMPERATURES}
            self.temperature = ui.select(temperatures, value=CHAT_DEFAULTS.temperature, label=tr('alignment.chat.t'))
            self.temperature.props('outlined dense').classes('w-32').mark('chat7-temperature')
            self.two_models = ui.switch(tr('alignment.chat.two_models')).mark('chat7-two-models')
            self.two_models.tooltip(tr('alignment.chat.two_models_help'))

    def _teach_row(self) -> None:
        tr = self.tr
        with ui.row().classes('w-full items-center gap-3 rounded-md bg-amber-50 px-3 py-2').mark('teach'):
            ui.icon('thumbs_up_down').style(f'color: {theme.ACCENT}')
            ui.label(tr('alignment.teach.lead')).classes('text-sm')
            self.picks_name = ui.input(tr('alignment.teach.dataset'), value=self.picks)
            self.picks_name.props('outlined dense').classes('w-48').mark('picks-name')
            self.picks_name.on('blur', self._rename)
            self.count = ui.label().classes('text-sm font-semibold').mark('picks-count')
            self.count.props['role'] = 'status'
        self._show_count()

    def _input_row(self) -> None:
        tr = self.tr
        with ui.row().classes('w-full items-center no-wrap gap-2'):
            self.input = ui.input(tr('alignment.chat.placeholder')).props('outlined dense').classes('flex-1')
            self.input.mark('chat7-input').on('keydown.enter', self._send)
            self.send_button = ui.button(tr('alignment.chat.send'), icon='send', on_click=self._send)
            self.send_button.props('unelevated no-caps').mark('chat7-send')
            self.two_button = ui.button(tr('alignment.teach.two'), icon='call_split', on_click=self._two_answers)
            self.two_button.props('outline no-caps').mark('chat7-two')
            self.two_button.tooltip(tr('alignment.teach.two_help'))
        with ui.row().classes('gap-2'):
            self.again = ui.button(tr('alignment.chat.regenerate'), icon='refresh', on_click=self._regenerate)
            self.again.props('flat dense no-caps').mark('chat7-regenerate')
            self.stop_button = ui.button(tr('alignment.chat.stop'), icon='stop', on_click=self._stop)
            self.stop_button.props('flat dense no-caps color=negative').mark('chat7-stop')
            ui.button(tr('alignment.chat.reset'), icon='restart_alt', on_click=self._reset).props(
                'flat dense no-caps'
            ).mark('chat7-reset')

    def _buttons(self) -> None:
        pending = self.choice.visible
        for button in (self.send_button, self.two_button):
            button.set_enabled(not self.busy and not pending)
        self.again.set_enabled(not self.busy and not pending and bool(self.history))
        self.stop_button.set_enabled(self.busy)

    # --- state --------------------------------------------------------------------------------------------------

    @property
    def settings(self) -> SamplingSettings:
        """The chat's sampling settings: `nanogpt-lab chat`'s, at the chosen temperature."""
        return replace(CHAT_DEFAULTS.sampling(), temperature=float(self.temperature.value or 0.0))

    def messages(self) -> list[dict[str, str]]:
        """The conversation as the model reads it: the system message (if any), then the turns."""
        system = (self.system.value or '').strip()
        return [*([{'role': 'system', 'content': system}] if system else []), *self.history]

    def _next_seed(self) -> int:
        self.seed += 1
        return self.seed

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.set_text(text)
        self.status.classes(replace=theme.ERROR_TEXT if error else theme.CAPTION)

    def _busy(self, busy: bool) -> None:
        self.busy = busy
        self.stop_asked = False
        if not self.is_deleted:
            self._buttons()

    # --- sending ------------------------------------------------------------------------------------------------

    async def _take_message(self) -> str | None:
        """The typed message, once the model is ready and can read it; None (with the reason shown) otherwise."""
        text = (self.input.value or '').strip()
        if self.busy or self.choice.visible:
            return None  # the buttons say it: disabled until the answer (or the pick) is done
        if not text:  # a click on an empty box is answered, not ignored
            self._say(self.tr('alignment.chat.empty'), error=True)
            return None
        self._busy(True)
        if not await self.ready():
            self._busy(False)
            return None
        try:
            self.session.check([*self.messages(), {'role': 'user', 'content': text}])
        except ValueError as e:  # a character it never saw, a message too long: say why, keep it in the box
            self._say(self.tr('alignment.chat.unreadable', message=self.tr.error(e)), error=True)
            self._busy(False)
            return None
        self._say('')
        self.input.value = ''
        self.history.append({'role': 'user', 'content': text})
        with self.log:
            ui.chat_message(text, name=self.tr('alignment.chat.you'), sent=True).props('translate=no').mark(
                'chat7-mine'
            )
        return text

    async def _send(self) -> None:
        text = await self._take_message()
        if text is None:
            return
        try:
            if self.two_models.value:
                with self.log, ui.element('div').classes(theme.GRID_2).mark('two-models'):
                    base_card, chat_card = self._card('base'), self._card('chat')
                await self._answer_into(chat_card)
                await self._continue_into(base_card, text)
            else:
                with self.log:
                    reply = ui.chat_message(name=self.tr('alignment.chat.model')).mark('chat7-reply')
                await self._answer_into(reply)
        finally:
            self._busy(False)

    def _card(self, which: str) -> ui.card:
        with ui.card().classes(theme.CARD).props('flat bordered') as card:
            ui.label(self.tr(f'alignment.two_models.{which}')).classes(theme.CARD_TITLE)
            ui.label(self.tr(f'alignment.two_models.{which}_help')).classes(theme.CAPTION)
        return card.mark(f'two-models-{which}')

    async def _answer_into(self, box: ui.element) -> str:
        """Stream the chat model's answer into `box`; it joins the history (even a stopped one: it was said)."""
        text, finish = await self._stream(box, self.session.answer, self.messages(), 'chat7-reply-text')
        self.history.append({'role': 'assistant', 'content': text})
        self._finished(box, finish)
        return text

    async def _continue_into(self, box: ui.element, text: str) -> None:
        """The base model writing on after the learner's words, no template: a continuation, not an answer."""
        _, finish = await self._stream(box, self.session.continuation, text, 'base-continuation')
        if finish == 'no_base':
            with box:
                ui.label(self.tr('alignment.two_models.no_base')).classes(theme.CAPTION)

    async def _stream(self, box: ui.element, generate: Callable[..., Any], what: Any, marker: str) -> tuple[str, Any]:
        pieces: list[str] = []
        with box:
            label = ui.label().classes(BUBBLE_TEXT).mark(marker)
            label.props['translate'] = 'no'
        settings, n, seed = self.settings, CHAT_DEFAULTS.max_new_tokens, self._next_seed()

        def show(event: dict[str, Any]) -> None:
            pieces.append(event.get('text') or '')
            label.set_text(''.join(pieces))

        try:
            finish = await streamed(lambda emit: generate(what, settings, n, seed, emit, lambda: self.stop_asked), show)
        except Exception as e:  # a prompt too long for the context, a model that broke: said where the answer goes
            label.set_text(self.tr('components.job.error', message=self.tr.error(e)))
            label.classes(replace=theme.ERROR_TEXT)
            return ''.join(pieces), 'error'
        return ''.join(pieces), finish

    def _finished(self, box: ui.element, finish: Any) -> None:
        if finish in ('length', 'stopped'):
            with box:
                ui.label(self.tr(f'alignment.chat.finish_{finish}')).classes(theme.CAPTION).mark('chat7-finish')

    async def _regenerate(self) -> None:
        """The last answer again, with another seed (the old one leaves the conversation)."""
        if self.busy or not self.history or self.history[-1]['role'] != 'assistant':
            return
        self.history.pop()
        replies = [e for e in self.log if e.props.get('data-role') != 'mine']
        if replies:
            replies[-1].delete()
        self._busy(True)
        try:
            with self.log:
                reply = ui.chat_message(name=self.tr('alignment.chat.model')).mark('chat7-reply')
            await self._answer_into(reply)
        finally:
            self._busy(False)

    def _stop(self) -> None:
        self.stop_asked = True

    def _reset(self) -> None:
        if self.busy:
            return
        self.history = []
        self.log.clear()
        self.choice.clear()
        self.choice.set_visibility(False)
        self._say('')
        self._buttons()

    # --- teach it: two answers, a pick ----------------------------------------------------------------------------

    async def _two_answers(self) -> None:
        """Two samples for one message, side by side; the learner's pick becomes a preference pair."""
        text = await self._take_message()
        if text is None:
            return
        prompt = self.messages()
        try:
            self.choice.clear()
            self.choice.set_visibility(True)
            with self.choice:
                ui.label(self.tr('alignment.teach.which')).classes('text-sm font-semibold')
                with ui.element('div').classes(theme.GRID_2):
                    cards = [self._answer_card(which) for which in ('a', 'b')]
            answers = []
            for card in cards:
                answer, _ = await self._stream(card, self.session.answer, prompt, 'answer-text')
                answers.append(answer)
        finally:
            self._busy(False)
        self._pick_buttons(prompt, answers)

    def _answer_card(self, which: str) -> ui.card:
        with ui.card().classes(theme.CARD).props('flat bordered') as card:
            ui.label(self.tr(f'alignment.teach.answer_{which}')).classes(theme.CARD_TITLE)
        return card.mark(f'answer-{which}')

    def _pick_buttons(self, prompt: list[dict[str, str]], answers: list[str]) -> None:
        tr, same = self.tr, answers[0].strip() == answers[1].strip()
        with self.choice, ui.row().classes('gap-2 items-center'):
            for i, which in enumerate(('a', 'b')):
                button = ui.button(
                    tr(f'alignment.teach.pick_{which}'), on_click=lambda i=i: self._pick(prompt, answers, i)
                )
                button.props('unelevated no-caps').mark(f'pick-{which}')
                button.set_enabled(not same)
            ui.button(tr('alignment.teach.skip'), on_click=lambda: self._pick(prompt, answers, None)).props(
                'flat no-caps'
            ).mark('pick-skip')
            if same:
                ui.label(tr('alignment.teach.same')).classes(theme.CAPTION).mark('pick-same')
        self._buttons()

    async def _pick(self, prompt: list[dict[str, str]], answers: list[str], chosen: int | None) -> None:
        """Save the pick (none for a skip); the chosen answer (A on a skip) goes on as the model's turn."""
        if self.busy:
            return
        if chosen is not None:
            try:
                count = await run.io_bound(
                    save_pick, self.picks, prompt, answers[chosen], answers[1 - chosen], self.session.model_id
                )
            except (ValueError, OSError) as e:  # a name taken by another dataset, a disk problem: nothing saved
                self._say(self.tr('alignment.teach.not_saved', message=self.tr.error(e)), error=True)
                return
            if count is None:  # the lab is shutting down
                return
            self._say(self.tr('alignment.teach.saved', name=self.picks))
            self._show_count(count)
        kept = answers[chosen if chosen is not None else 0]
        self.history.append({'role': 'assistant', 'content': kept})
        self.choice.clear()
        self.choice.set_visibility(False)
        with self.log:
            reply = ui.chat_message(name=self.tr('alignment.chat.model')).mark('chat7-reply')
            with reply:
                ui.label(kept).classes(BUBBLE_TEXT).props('translate=no').mark('chat7-reply-text')
        self._buttons()

    def _rename(self) -> None:
        """Another dataset name: picks go there from now on (a name that is not a plain folder name is refused)."""
        name = (self.picks_name.value or '').strip()
        try:
            workspace.check_name(name, 'dataset')
        except LabError as e:
            self._say(self.tr('alignment.teach.bad_name', message=self.tr.error(e)), error=True)
            self.picks_name.value = self.picks
            return
        self.picks = name
        self._show_count()

    def _show_count(self, count: int | None = None) -> None:
        if count is None:
            try:
                count = pick_count(self.picks)
            except (ValueError, OSError):
                count = 0  # a folder of another kind under this name: the first pick says so
        self.count.set_text(self.tr('alignment.teach.count', n=count, name=self.picks))
        if self.on_picks is not None:
            with contextlib.suppress(Exception):
                self.on_picks(self.picks, count)
