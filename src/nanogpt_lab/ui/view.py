"""What one browser tab is looking at: stage, mode, language and the stage's key parameters — all in the URL.

A `View` is made per page load (never shared between clients). Its URL is the shareable address of the exact
view: `/architecture?lang=zh-CN&mode=simulation&size=gpt2-medium&ln=post` opens the same page for a whole class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from nicegui import app, ui

from nanogpt_lab.ui.i18n import Translator, normalize, pick_language
from nanogpt_lab.ui.stages import Stage

MODES = ('simulation', 'real')
SHELL_PARAMS = ('lang', 'mode', 'token')  # every other query parameter belongs to the current stage


@dataclass(frozen=True)
class LabSettings:
    """How this server was started; the same for every client."""

    default_mode: str = 'simulation'
    token: str | None = None  # access token when bound beyond loopback (kept in links so shared views open)
    detect_device: bool = True  # False only in tests that must not import torch


@dataclass
class DeviceState:
    """The hardware the badge shows, filled in after the page is up (describe() imports torch)."""

    info: dict[str, Any] | None = None
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    def on_ready(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call `callback(info)` now if known, else as soon as detection finishes."""
        if self.info is not None:
            callback(self.info)
        self.listeners.append(callback)

    def set(self, info: dict[str, Any]) -> None:
        """Record the detected hardware and tell everyone waiting for it."""
        self.info = info
        for callback in list(self.listeners):
            callback(info)


@dataclass
class View:
    """One tab's stage, mode, language and stage parameters, plus its translator and device state."""

    stage: Stage
    lang: str
    mode: str
    settings: LabSettings
    params: dict[str, str] = field(default_factory=dict)
    device: DeviceState = field(default_factory=DeviceState)

    def __post_init__(self) -> None:
        self.tr = Translator(self.lang)

    @classmethod
    def from_query(
        cls, stage: Stage, settings: LabSettings, query: dict[str, str], accept_language: str | None = None
    ) -> View:
        """Read a page request: the URL wins, then what this browser chose before, then the defaults."""
        stored = _user_storage()
        lang = pick_language(query.get('lang'), stored.get('lang'), accept_language)
        mode = query.get('mode') if query.get('mode') in MODES else stored.get('mode', settings.default_mode)
        mode = mode if mode in MODES else 'simulation'
        stored.update(lang=lang, mode=mode)
        params = {k: v for k, v in query.items() if k not in SHELL_PARAMS}
        return cls(stage=stage, lang=lang, mode=mode, settings=settings, params=params)

    @property
    def real(self) -> bool:
        """Whether this tab is in real mode (jobs run for real) rather than simulation mode."""
        return self.mode == 'real'

    def url(self, slug: str | None = None, *, lang: str | None = None, mode: str | None = None) -> str:
        """The address of this view, or of another stage with the same language and mode (its own defaults)."""
        query: dict[str, str] = {'lang': lang or self.lang, 'mode': mode or self.mode}
        if slug is None or slug == self.stage.slug:
            query.update(self.params)
        if self.settings.token:
            query['token'] = self.settings.token
        return f'/{slug or self.stage.slug}?{urlencode(query)}'

    def url_with(self, **params: Any) -> str:
        """This stage with exactly these stage parameters (e.g. another dataset), same language and mode."""
        query: dict[str, str] = {'lang': self.lang, 'mode': self.mode, **{k: str(v) for k, v in params.items()}}
        if self.settings.token:
            query['token'] = self.settings.token
        return f'{self.stage.path}?{urlencode(query)}'

    def param(self, name: str, default: str, allowed: Iterable[str] | None = None) -> str:
        """A stage parameter from the URL; a value that is not allowed falls back to the default."""
        value = self.params.get(name, default)
        return value if allowed is None or value in allowed else default

    def int_param(self, name: str, default: int, low: int, high: int) -> int:
        """An integer stage parameter from the URL, clamped to [low, high]; junk falls back to the default."""
        try:
            return min(high, max(low, int(self.params.get(name, default))))
        except ValueError:
            return default

    def share(self, **params: Any) -> None:
        """Put stage parameters in the address bar (None removes one) without reloading the page."""
        for key, value in params.items():
            if value is None:
                self.params.pop(key, None)
            else:
                self.params[key] = str(value)
        ui.navigate.history.replace(self.url())

    def switch(self, *, lang: str | None = None, mode: str | None = None) -> None:
        """Change language or mode: remember the choice for this browser and redraw the page in it."""
        lang = normalize(lang) or self.lang
        mode = mode if mode in MODES else self.mode
        if (lang, mode) == (self.lang, self.mode):
            return
        _user_storage().update(lang=lang, mode=mode)
        ui.navigate.to(self.url(lang=lang, mode=mode))


def _user_storage() -> dict:
    """This browser's remembered choices (a plain dict when storage is not set up, e.g. a bare test app)."""
    try:
        return app.storage.user
    except (RuntimeError, AssertionError):
        return {}
