"""A run as an ONNX graph: input_ids (batch, sequence) int64 -> logits (batch, sequence, vocab) float32.

Exported with torch.export (`torch.onnx.export(..., dynamo=True)`), batch and sequence length dynamic up to the
model's block_size, and checked by running it once in onnxruntime against our own logits before it is kept.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch

from nanogpt_lab.export.folder_writer import ExportError, Run, write_provenance, write_tokenizer

ONNX_FILE = 'model.onnx'
TOLERANCE = 1e-4  # max |logit difference| between onnxruntime and PyTorch that the export accepts


class AllLogits(torch.nn.Module):
    """Our GPT returning every position's logits (its inference path returns only the last position's)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # with targets the model projects every position; the loss it also computes is unused and pruned away
        logits, _ = self.model(input_ids, input_ids)
        return logits


def write_onnx(run: Run, folder: Path) -> None:
    """Export, verify with onnxruntime, and add the tokenizer files and provenance."""
    wrapper = AllLogits(run.model).eval()
    block = run.model.config.block_size
    example = torch.randint(0, run.model.config.vocab_size, (2, min(8, block)))
    batch, sequence = torch.export.Dim('batch', min=1, max=4096), torch.export.Dim('sequence', min=1, max=block)
    path = folder / ONNX_FILE
    with contextlib.redirect_stdout(io.StringIO()), torch.no_grad():  # the exporter prints its progress
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            input_names=['input_ids'],
            output_names=['logits'],
            dynamic_shapes={'input_ids': {0: batch, 1: sequence}},
            dynamo=True,
            verbose=False,
        )
    error = max_difference(wrapper, path, block)
    if error > TOLERANCE:
        raise ExportError('export.onnx_mismatch', error=f'{error:.2e}', tolerance=TOLERANCE)
    write_tokenizer(run, folder)
    files = sorted(p.name for p in folder.iterdir())
    write_provenance(run, folder, 'onnx', {'files': files, 'max_abs_logit_difference': error})


def max_difference(wrapper: torch.nn.Module, path: Path, block: int) -> float:
    """Largest |onnxruntime - PyTorch| logit over a few shapes, a one-token input and a full block among them."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    vocab = wrapper.model.config.vocab_size
    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for shape in ((1, 1), (3, max(1, block // 2)), (1, block)):
        ids = torch.randint(0, vocab, shape, generator=generator)
        with torch.no_grad():
            want = wrapper(ids)
        got = torch.from_numpy(session.run(['logits'], {'input_ids': ids.numpy()})[0])
        worst = max(worst, float((got - want).abs().max()))
    return worst
