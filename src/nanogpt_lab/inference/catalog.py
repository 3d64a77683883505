"""The models the lab serves by name (OpenAI's /v1/models, the chat pickers): runs with a checkpoint, the bundled
models shipped inside the package, and downloaded GPT-2 weights — and which of them speak the chat template.

Torch-free: listing models is a few `stat` calls, so a page or a route can ask at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nanogpt_lab import workspace
from nanogpt_lab.alignment.template import CHAT_FILE
from nanogpt_lab.config import PRETRAINED, SampleConfig
from nanogpt_lab.model.pretrained import CONFIG_FILE

# the models shipped inside the package (simulation/assets/<folder>/, found by path: no import of the simulation
# layer), by the name `--init_from` and /v1 use for them
BUNDLED: dict[str, str] = {'bundled': 'tiny-shakespeare-char', 'bundled-chat': 'chat-lab-tasks'}
BUNDLED_NAME = BUNDLED['bundled']
BUNDLED_CHAT = 'bundled-chat'  # the tiny model after SFT on lab-tasks: it speaks the chat template (stage 7)


@dataclass(frozen=True)
class ServedModel:
    """One model that can be named in a request: its id, where it comes from, whether it chats, when it was made."""

    id: str
    kind: Literal['run', 'bundled', 'pretrained']
    folder: Path
    chat: bool
    created: int  # unix seconds: the checkpoint's or the weights' modification time

    def sample_config(self, device: str = 'auto') -> SampleConfig:
        """The SampleConfig that loads this model (run folder, bundled name, or pretrained name)."""
        if self.kind == 'run':
            return SampleConfig(init_from='resume', out_dir=str(self.folder), device=device)
        return SampleConfig(init_from=self.id, device=device)


def bundled_folder(name: str = BUNDLED_NAME) -> Path:
    """The folder of a model shipped inside the package (simulation/assets/<name>/)."""
    return Path(__file__).resolve().parents[1] / 'simulation' / 'assets' / name


def _created(path: Path) -> int:
    return int(path.stat().st_mtime)


def _runs() -> list[ServedModel]:
    root = workspace.runs_root()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        ckpt = folder / workspace.CKPT_NAME
        if folder.is_dir() and ckpt.is_file():
            found.append(ServedModel(folder.name, 'run', folder, (folder / CHAT_FILE).is_file(), _created(ckpt)))
    return found


def served_models() -> list[ServedModel]:
    """Every model a request can name: the bundled ones, downloaded GPT-2 weights, then runs with a checkpoint."""
    models = []
    for model_id, name in BUNDLED.items():
        folder = bundled_folder(name)
        if (folder / CONFIG_FILE).is_file():
            models.append(ServedModel(model_id, 'bundled', folder, (folder / CHAT_FILE).is_file(), _created(folder)))
    for name in PRETRAINED:
        folder = workspace.weights_root() / name
        if (folder / CONFIG_FILE).is_file():
            models.append(ServedModel(name, 'pretrained', folder, False, _created(folder / CONFIG_FILE)))
    return models + _runs()


def find_model(model_id: str) -> ServedModel | None:
    """The served model with this id, or None (ids are compared exactly: nothing the caller sends becomes a path)."""
    return next((m for m in served_models() if m.id == model_id), None)
