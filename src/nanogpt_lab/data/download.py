"""Downloading a dataset's source file: sha256-checked, with progress events, written atomically."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from nanogpt_lab.data.errors import DataError
from nanogpt_lab.data.progress import Progress
from nanogpt_lab.events import Emit, null_emit
from nanogpt_lab.fileio import atomic_open, sha256_of
from nanogpt_lab.messages import ref

OFFLINE_VARIABLES = ('HF_DATASETS_OFFLINE', 'HF_HUB_OFFLINE')  # what Hugging Face `datasets` reads
HUB_OFFLINE_VARIABLES = ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')  # what `huggingface_hub` reads


def hf_offline(variables: tuple[str, ...] = OFFLINE_VARIABLES) -> bool:
    """Whether Hugging Face's libraries are told to stay offline (one of `variables` is 1, true, yes or on): a
    download from the Hub would fail, so say so first."""
    return any(os.environ.get(v, '').strip().lower() in ('1', 'true', 'yes', 'on') for v in variables)


SHAKESPEARE_URL = 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt'
SHAKESPEARE_SHA256 = '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed'
TIMEOUT_S = 20
BLOCK = 1 << 16


def download(url: str, dest: Path, sha256: str, emit: Emit = null_emit, timeout: float = TIMEOUT_S) -> Path:
    """Fetch `url` into `dest` unless a file with the right sha256 is already there; a wrong hash keeps nothing."""
    if dest.is_file() and sha256_of(dest) == sha256:
        return dest
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - a fixed https URL
    except (urllib.error.URLError, OSError) as e:
        raise _offline(url, dest, e) from None
    total = int(response.headers.get('Content-Length') or 0) or None
    h, done, progress = hashlib.sha256(), 0, Progress(emit, ref('progress.download'), 'B', total)
    try:
        with response, atomic_open(dest) as f:
            while block := response.read(BLOCK):
                f.write(block)
                h.update(block)
                done += len(block)
                progress(done)
            if h.hexdigest() != sha256:
                raise DataError('download.checksum', url=url, got=h.hexdigest(), expected=sha256)
    except (urllib.error.URLError, OSError) as e:
        raise _offline(url, dest, e) from None
    progress(done, final=True)
    return dest


def _offline(url: str, dest: Path, e: Exception) -> DataError:
    reason = getattr(e, 'reason', None) or e
    return DataError('download.offline', url=url, reason=str(reason), dest=dest)
