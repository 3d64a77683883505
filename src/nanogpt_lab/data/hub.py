"""Downloading GPT-2 weights from the Hugging Face Hub into <workspace>/weights/<name>: resumable, checked, fast to
fail offline. The folder it fills is read and verified by `model.pretrained`, like a folder placed by hand."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nanogpt_lab.config import PRETRAINED
from nanogpt_lab.data.download import HUB_OFFLINE_VARIABLES, hf_offline
from nanogpt_lab.events import Cancelled, Emit, emit_log, null_emit
from nanogpt_lab.fileio import atomic_write_text, sha256_of
from nanogpt_lab.messages import ref
from nanogpt_lab.model.pretrained import (
    CONFIG_FILE,
    HF_REPOS,
    WEIGHTS_FILE,
    WeightsError,
    by_hand,
    verify_weights_folder,
    weights_dir,
)

HUB_TIMEOUT_S = 5.0  # offline machines must fail in seconds, not after a minute of retries


def _offline() -> bool:
    from huggingface_hub import constants

    return hf_offline(HUB_OFFLINE_VARIABLES) or constants.HF_HUB_OFFLINE  # the environment now, or at its import


def download_weights(name: str, emit: Emit = null_emit, should_stop: Callable[[], bool] = lambda: False) -> Path:
    """Fetch gpt2* (config.json + model.safetensors only) into <workspace>/weights/<name>, resumably, and verify it.

    Progress arrives as `progress` events in bytes. A download cut off (network, Ctrl-C, a killed job) leaves
    `<file>.part`; running the command again continues from there. Offline, it fails within seconds with
    instructions for placing the files by hand.
    """
    if name not in PRETRAINED:
        raise WeightsError('weights.unknown_model', name=name, pretrained=', '.join(PRETRAINED))
    folder = weights_dir(name)
    try:
        summary = verify_weights_folder(folder, name)
        emit_log(emit, 'log.weights_present', name=name, path=folder, tensors=summary['tensors'])
        return folder
    except WeightsError as e:  # not there yet, or incomplete: download what is missing
        placed = ref(e.code, **e.params) if (folder / CONFIG_FILE).is_file() else None
    if _offline() and placed:
        raise WeightsError('download.hf_offline_placed', name=name, by_hand=by_hand(name), placed=placed)
    if _offline():
        raise WeightsError('download.hf_offline', name=name, by_hand=by_hand(name))
    folder.mkdir(parents=True, exist_ok=True)
    for filename in (CONFIG_FILE, WEIGHTS_FILE):
        _download_file(name, filename, folder, emit, should_stop)
    summary = verify_weights_folder(folder, name)
    emit_log(emit, 'log.weights_downloaded', name=name, path=folder, tensors=summary['tensors'])
    return folder


def _hub_metadata(name: str, filename: str) -> Any:
    """The file's size, etag and URL, asked with a short timeout so an offline machine fails fast."""
    from huggingface_hub import constants as hub_constants
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    endpoint = (os.environ.get('HF_ENDPOINT') or hub_constants.ENDPOINT).rstrip('/')
    url = hf_hub_url(HF_REPOS[name], filename, endpoint=endpoint)
    try:
        _resolve(urlsplit(endpoint).hostname or '', HUB_TIMEOUT_S)
        return get_hf_file_metadata(url, timeout=HUB_TIMEOUT_S, endpoint=endpoint)
    except Exception as e:  # offline mode, DNS, refused, timeout, HTTP errors: all mean "not reachable from here"
        reason = f'{e.__class__.__name__}: {str(e).splitlines()[0][:160]}' if str(e) else e.__class__.__name__
        raise WeightsError('download.hub_unreachable', name=name, reason=reason, by_hand=by_hand(name)) from None


def _resolve(host: str, timeout: float) -> None:
    """Look the host up within `timeout` seconds: HTTP timeouts do not cover DNS, which can hang far longer."""
    result: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, 443)
            result.append(None)
        except OSError as e:
            result.append(e)

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        raise TimeoutError(f'looking up {host} took over {timeout:.0f} s')
    if result[0] is not None:
        raise result[0]


def _download_file(name: str, filename: str, folder: Path, emit: Emit, should_stop: Callable[[], bool]) -> None:
    """One file, appended to `<file>.part` from where an earlier attempt stopped, checked, then renamed in place."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    target = folder / filename
    meta = _hub_metadata(name, filename)
    if target.is_file() and meta.size is not None and target.stat().st_size == meta.size and _hash_ok(target, meta):
        return  # already here from an earlier attempt
    part, state = folder / f'{filename}.part', folder / f'{filename}.part.json'
    resume = part.stat().st_size if part.is_file() and _same_version(state, meta) else 0
    atomic_write_text(state, json.dumps({'etag': meta.etag, 'size': meta.size, 'commit': meta.commit_hash}))
    label = f'{name}/{filename}'
    with open(part, 'ab' if resume else 'wb') as f:
        try:
            http_get(
                meta.location,
                f,
                resume_size=resume,
                headers=build_hf_headers(),
                expected_size=meta.size,
                displayed_filename=filename,
                tqdm_class=_progress_class(emit, label, meta.size, should_stop),
            )
        except Cancelled:
            raise
        except Exception as e:
            done = f.tell()
            raise WeightsError(
                'download.stopped', label=label, done=done, size=meta.size or 0, reason=e.__class__.__name__, name=name
            ) from None
        f.flush()
        os.fsync(f.fileno())
    if not _hash_ok(part, meta):
        part.unlink()
        raise WeightsError('download.hub_checksum', label=label, etag=meta.etag)
    os.replace(part, target)
    state.unlink(missing_ok=True)


def _same_version(state: Path, meta: Any) -> bool:
    try:
        return json.loads(state.read_text())['etag'] == meta.etag
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _hash_ok(path: Path, meta: Any) -> bool:
    """Large files on the Hub have their sha256 as etag: check it; small files only have a git hash (size only)."""
    etag = (meta.etag or '').lower()
    if not re.fullmatch(r'[0-9a-f]{64}', etag):
        return meta.size is None or path.stat().st_size == meta.size
    return sha256_of(path) == etag


def _progress_class(emit: Emit, label: str, size: int | None, should_stop: Callable[[], bool]) -> type:
    """A tqdm class for huggingface_hub that reports bytes as `progress` events (a few per second) and can cancel."""
    from tqdm.auto import tqdm

    class EmitProgress(tqdm):
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs.pop('name', None)
            kwargs['disable'] = True  # the lab draws its own bar from the events
            self.done, self.size, self.last = int(kwargs.get('initial') or 0), size or kwargs.get('total'), 0.0
            super().__init__(*args, **kwargs)
            emit('progress', done=self.done, total=self.size, unit='B', label=label)

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            now = time.monotonic()
            if now - self.last >= 0.25 or (self.size and self.done >= self.size):
                self.last = now
                emit('progress', done=self.done, total=self.size, unit='B', label=label)
            if should_stop():
                raise Cancelled('download.cancelled', label=label, done=self.done)
            return None

    return EmitProgress
