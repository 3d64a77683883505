"""Stage 1: turn text into nanoGPT-compatible train.bin / val.bin / meta.pkl, and read batches back.

Torch-free to import: `get_batch` loads torch when it is first called.
"""

from nanogpt_lab.data.batch import BatchRow, get_batch, inspect_batch
from nanogpt_lab.data.dataset import dataset_dir, load_meta, load_stats, prepare, vocab_size_of
from nanogpt_lab.data.errors import DataError

__all__ = [
    'BatchRow',
    'DataError',
    'dataset_dir',
    'get_batch',
    'inspect_batch',
    'load_meta',
    'load_stats',
    'prepare',
    'vocab_size_of',
]
