"""The seven stages in learning order: the one list the stepper, the routes and the tests read.

Each stage is a module `nanogpt_lab.ui.stages.<slug>` exposing `create(view)`, which fills the column that
`shell.frame(view)` yields. Importing this package registers nothing and imports no stage module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Stage:
    """One stage: its number in the learning order, its URL slug, and where its page and texts live."""

    number: int
    slug: str  # the URL path (/data) and the i18n namespace (data.*) and the module name

    @property
    def path(self) -> str:
        """The page's URL path."""
        return f'/{self.slug}'

    @property
    def name_key(self) -> str:
        """The i18n key of the stage's name."""
        return f'stages.{self.slug}.name'

    @property
    def goal_key(self) -> str:
        """The i18n key of the stage's one-line goal."""
        return f'stages.{self.slug}.goal'

    def module(self) -> ModuleType:
        """The stage's page module, imported on first use."""
        return importlib.import_module(f'{__name__}.{self.slug}')


STAGES: tuple[Stage, ...] = (
    Stage(1, 'data'),
    Stage(2, 'tokenizers'),
    Stage(3, 'architecture'),
    Stage(4, 'pretraining'),
    Stage(5, 'finetuning'),
    Stage(6, 'inference'),
    Stage(7, 'alignment'),
)
