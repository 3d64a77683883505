"""The screenshot script's pictures are found by the section headings the pages show, in the shot's language."""

from __future__ import annotations

from nanogpt_lab.tools.ui_screenshots import SHOTS
from nanogpt_lab.ui.i18n import Translator


def test_every_shot_names_a_heading_and_button_the_catalogs_have() -> None:
    assert len({s.name for s in SHOTS}) == len(SHOTS)
    for shot in SHOTS:
        tr = Translator(shot.lang)
        assert tr.has(shot.title) and (not shot.click or tr.has(shot.click)), shot
