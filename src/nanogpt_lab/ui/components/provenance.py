"""Where a number came from: `live` (device, run), `simulated` (which recorded run) or `formula` (which one).

Every chart and headline number carries one, so nothing simulated can pass as measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from nanogpt_lab.ui import theme
from nanogpt_lab.ui.i18n import Translator


@dataclass(frozen=True)
class Provenance:
    """`kind` is live | simulated | formula, or mixed (`source` then holds each part's own label); `source` names
    the device and run, the recorded asset or the formula."""

    kind: str
    source: str
    detail: str = ''  # e.g. the command that recorded an asset, shown on hover

    def __post_init__(self) -> None:
        assert self.kind in theme.PROVENANCE_COLORS, self.kind

    @classmethod
    def live(cls, device: str, run: str) -> Provenance:
        """Measured now: on which device, by which run (or from which prepared folder)."""
        return cls('live', f'{device} · {run}')

    @classmethod
    def formula(cls, name: str) -> Provenance:
        """Computed from an exact or published formula, named."""
        return cls('formula', name)

    @classmethod
    def asset(cls, name: str, date: str, tr: Translator) -> Provenance:
        """Replayed from the recorded asset `name`: its name, date and machine (and on hover what recorded it)."""
        from nanogpt_lab.simulation import assets

        p = assets.load_provenance(name)
        device = p.get('device', '?')
        machine = p.get('cpu') if device == 'cpu' else p.get('device_name')
        device = tr('components.provenance.device', device=device, name=machine or '?', threads=p.get('threads', '?'))
        commit = (p.get('commit') or '?')[:12] + ('+dirty' if p.get('dirty') else '')
        detail = tr('components.provenance.recorded_by', command=p.get('command', '?'), commit=commit, device=device)
        return cls('simulated', tr('components.provenance.asset', name=name, date=date, device=device), detail)

    def text(self, tr: Translator) -> str:
        """One line such as 'simulated · recorded run: shakespeare_char stats'."""
        return tr(f'components.provenance.{self.kind}', source=self.source)


def provenance_label(provenance: Provenance, tr: Translator) -> ui.label:
    """A small coloured label naming where the data came from (the recording command on hover)."""
    color = theme.PROVENANCE_COLORS[provenance.kind]
    label = ui.label(provenance.text(tr)).classes(f'{theme.CAPTION} font-medium').style(f'color: {color}')
    label.mark('provenance')
    if provenance.detail:
        label.props['title'] = provenance.detail
    return label
