"""nanoGPT-style config files are evaluated, never executed, and every value they compute is bounded in size.

Each expression below once took gigabytes, hung, or failed with Python's own message and no line: each must now be
refused in milliseconds, with the file and the line, and nanoGPT's own config files must still read.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from nanogpt_lab.config import MAX_CONFIG_BYTES, ConfigError, TrainConfig, from_args, read_config_file

REFUSED = {
    "dataset = 'a' * 10**10": 'a string of 10,000,000,000 characters',
    'n_layer = 10**10**10': 'bits',
    'x = 3\nn = str(10**5000)': 'bits',
    'x = 7 ** 999999': 'bits',
    "x = 'ab' * 60000": 'characters',
    "x = 'a' * 99999 + 'bc'": 'characters',
    'x = 2**64 * 2**64': 'bits',
    '-(-(-(-(' * 2000 + '1' + ')' * 8000: 'nested',
    'x = ' + '+'.join(['1'] * 30_000): 'nested',
    'x = 1\n' * 20_000: 'larger than',
    "x = '%0999999999d' % 1": 'formats a string',
    'x = 0x' + 'f' * 20: 'bits',
    "x = int('9' * 5000)": 'cannot compute',
    "x = -'a'": 'applies a sign',
    'x = 10.0 ** 400': 'cannot compute',
    "x = float('1e999') * 0": None,  # inf * 0 is nan: computed (tiny), then refused by the key's own rule
}


@pytest.mark.parametrize('source', list(REFUSED), ids=[s[:30] for s in REFUSED])
def test_a_config_file_value_too_big_is_refused_at_once_naming_file_and_line(tmp_path: Path, source: str) -> None:
    path = tmp_path / 'bad_config.py'
    path.write_text(source + '\n')
    line = source.count('\n') + 1
    start = time.perf_counter()
    try:
        values = read_config_file(path)
    except ConfigError as e:
        message, elapsed = str(e), time.perf_counter() - start
    else:
        assert REFUSED[source] is None, f'accepted: {values}'
        return
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError):
            read_config_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, f'{elapsed:.2f} s to refuse'  # milliseconds on a quiet machine; generous for a loaded one
    assert peak < 64 << 20, f'{peak / 1e6:.0f} MB to refuse'
    assert str(path) in message and (f':{line}:' in message or 'nested' in message or 'larger' in message), message
    assert REFUSED[source] in message, message


def test_values_within_the_bounds_still_compute(tmp_path: Path) -> None:
    path = tmp_path / 'ok.py'
    path.write_text(
        "import time\nout_dir = 'out-' + str(int(time.time()))\nbatch_size = 2 ** 4\nblock_size = 64 * 4\n"
        "max_iters = 10 ** 6\nlearning_rate = 6e-4 / 10\nwandb_run_name = 'mini' * 3\nseed = 2**32 - 1\n"
        'gradient_accumulation_steps = 5 * 8\nmin_lr = learning_rate / 10\n'
    )
    values = read_config_file(path)
    assert values['batch_size'] == 16 and values['block_size'] == 256 and values['max_iters'] == 10**6
    assert values['wandb_run_name'] == 'minimini' + 'mini' and values['seed'] == 2**32 - 1
    assert values['min_lr'] == pytest.approx(6e-6)


def test_nanogpts_own_config_files_still_read(shared_data: Path) -> None:
    folder = shared_data / 'nanogpt-ref' / 'config'
    files = sorted(folder.glob('*.py'))
    assert len(files) >= 5
    for f in files:
        cfg = from_args(TrainConfig, [str(f)], base={'device': 'cpu'})
        assert cfg.batch_size > 0


def test_a_file_larger_than_any_config_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / 'huge.py'
    with open(path, 'wb') as f:
        f.truncate(4 << 30)  # 4 GiB, sparse: nothing is written, but reading it whole would take 4 GiB
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match='larger than'):
            read_config_file(path)
        assert tracemalloc.get_traced_memory()[1] < 4 * MAX_CONFIG_BYTES
    finally:
        tracemalloc.stop()
