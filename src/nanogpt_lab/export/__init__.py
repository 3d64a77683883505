"""Export a run to Hugging Face GPT-2 (safetensors) or ONNX.

`export_run(out_dir, to, fmt)` reads the run's ckpt.pt through `model.checkpoint`, builds the export in a temporary
folder beside `to` and moves it into place only when complete, so an interrupted export never looks finished.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nanogpt_lab.export.folder_writer import ExportError

__all__ = ['FORMATS', 'ExportError', 'export_run']

FORMATS = ('hf', 'onnx')


def export_run(
    out_dir: str | Path, to: str | Path, fmt: str = 'hf', on_phase: Callable[[str], None] = lambda code: None
) -> Path:
    """Export the checkpoint in `out_dir` (a run folder or a ckpt.pt) as `fmt` into the folder `to`; return it.
    `on_phase(code)` hears each step as it begins (`export.phase.*`: reading, then writing the format)."""
    if fmt not in FORMATS:
        raise ExportError('config.export_format', key='format', value=fmt, allowed=', '.join(FORMATS))
    from nanogpt_lab.export.folder_writer import load_run, write_folder

    on_phase('export.phase.reading')
    run = load_run(out_dir)
    if fmt == 'hf':
        from nanogpt_lab.export.hf import write_hf

        on_phase('export.phase.hf')
        return write_folder(Path(to), lambda tmp: write_hf(run, tmp))
    from nanogpt_lab.export.onnx import write_onnx

    on_phase('export.phase.onnx')
    return write_folder(Path(to), lambda tmp: write_onnx(run, tmp))
