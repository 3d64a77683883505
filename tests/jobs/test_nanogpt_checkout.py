"""nanoGPT's own train.py/sample.py output (captured from a real run, see fixtures/README.md) becomes our events."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nanogpt_lab.config import ConfigError, SampleConfig, TrainConfig
from nanogpt_lab.jobs import nanogpt_checkout as nc

FIXTURES = Path(__file__).parent / 'fixtures'


def _parse(name: str, **kw) -> list[tuple[str, dict]]:
    parser = nc.LogParser(**kw)
    events = []
    for line in (FIXTURES / name).read_text().splitlines(keepends=True):
        events += parser.feed(line)
    return events + parser.flush()


def test_iteration_lines_become_train_events() -> None:
    events = _parse('nanogpt_train_cpu.log', max_iters=12)
    train = [f for t, f in events if t == 'train']
    assert [f['iter'] for f in train] == list(range(13))
    assert train[0]['loss'] == 4.1828 and train[0]['dt_ms'] == 9353.26 and train[0]['max_iters'] == 12
    # tokens per iteration (768) comes from nanoGPT's own line; tokens seen after iteration N = (N + 1) x 768
    assert train[3]['tokens'] == 4 * 768
    # mfu -100.00% is nanoGPT's "not measured yet" for the first five iterations; its figure is against an A100
    assert [f['mfu_a100'] for f in train[:5]] == [None] * 5 and train[5]['mfu_a100'] == 0.0
    assert all(f['mfu'] is None for f in train)


def test_first_iteration_and_eval_iterations_report_no_throughput() -> None:
    train = {f['iter']: f for t, f in _parse('nanogpt_train_cpu.log') if t == 'train'}
    assert train[0]['includes_eval'] and train[0]['tokens_per_s'] is None  # start-up + the step-0 evaluation
    assert train[6]['includes_eval'] and train[6]['tokens_per_s'] is None
    assert train[7]['tokens_per_s'] == pytest.approx(768 / 0.13423)


def test_step_lines_become_eval_events_marked_saved() -> None:
    events = _parse('nanogpt_train_cpu.log')
    evals = [f for t, f in events if t == 'eval']
    assert [(e['iter'], e['train_loss'], e['val_loss'], e['saved']) for e in evals] == [
        (0, 4.1682, 4.1703, False), (6, 3.8924, 3.9156, True), (12, 3.6912, 3.7207, True)
    ]  # fmt: skip
    assert evals[-1]['best_val_loss'] == 3.7207 and evals[1]['tokens'] == 6 * 768
    kinds = [t for t, _ in events]
    assert kinds.index('eval') < kinds.index('train')  # the evaluation at step 0 comes before iteration 0
    saved = [f for t, f in events if t == 'log' and f.get('code') == 'checkpoint_saved']
    assert len(saved) == 2
    assert any('GradScaler' in f['message'] for t, f in events if t == 'log' and f['level'] == 'warning')


def test_sample_output_is_split_into_texts() -> None:
    texts = nc.parse_samples((FIXTURES / 'nanogpt_sample_cpu.log').read_text())
    assert texts == ["\no Njids3f3w ztUSuXBtodJf'mX3 lTHaLrkWoaW", '\nlsig?eaSlCeKaXAQzxer\n$sb PhJ? u?io &h Xq']


def test_config_keys_are_read_from_train_py_without_running_it(nanogpt_ref: Path) -> None:
    keys = nc.config_keys(nanogpt_ref / 'train.py')
    assert keys['batch_size'] == 12 and keys['compile'] is True and 'dtype' in keys and 'config_keys' not in keys
    flags = nc.train_flags(TrainConfig(device='cpu', n_layer=2), keys, Path('/runs/x'))
    assert '--n_layer=2' in flags and '--device=cpu' in flags and '--compile=False' in flags
    assert '--dtype=float32' in flags and '--out_dir=/runs/x' in flags and '--learning_rate=0.0006' in flags
    assert not any(f.startswith(('--threads', '--ln_position', '--model=')) for f in flags)


def test_lab_only_options_are_refused_with_the_key(nanogpt_ref: Path) -> None:
    keys = nc.config_keys(nanogpt_ref / 'train.py')
    with pytest.raises(ConfigError) as e:
        nc.train_flags(TrainConfig(device='cpu', ln_position='post'), keys, Path('/r'))
    assert e.value.key == 'ln_position'
    with pytest.raises(ConfigError) as e:
        nc.sample_flags(SampleConfig(device='cpu', top_p=0.9), nc.config_keys(nanogpt_ref / 'sample.py'), Path('/p'))
    assert e.value.key == 'top_p'


def test_not_a_checkout(tmp_path: Path) -> None:
    (tmp_path / 'train.py').write_text('')
    with pytest.raises(nc.CheckoutError, match='lacks model.py, configurator.py, sample.py'):
        nc.resolve_checkout(str(tmp_path), lambda *a, **k: None)


def test_failing_checkout_surfaces_its_own_last_lines(tmp_path: Path, nanogpt_ref: Path) -> None:
    checkout = tmp_path / 'nanoGPT'
    shutil.copytree(nanogpt_ref, checkout, ignore=shutil.ignore_patterns('.git', 'assets'))
    (checkout / 'train.py').write_text('import sys\nprint("about to fail")\nraise RuntimeError("wrong torch: 1.0")\n')
    run_dir = tmp_path / 'run'
    cfg = TrainConfig(device='cpu', dataset='shakespeare_char', out_dir=str(run_dir), data_dir=str(tmp_path / 'd'))
    (tmp_path / 'd' / 'shakespeare_char').mkdir(parents=True)
    (tmp_path / 'd' / 'shakespeare_char' / 'train.bin').write_bytes(b'\0\0')
    with pytest.raises(nc.CheckoutError) as e:
        nc.run(cfg, lambda *a, **k: None, lambda: False, kind='train', checkout=str(checkout), run_dir=run_dir)
    assert 'exited with code 1' in str(e.value)
    assert 'about to fail' in str(e.value) and 'RuntimeError: wrong torch: 1.0' in str(e.value)
    assert not (checkout / 'data' / 'shakespeare_char' / 'train.bin').exists()  # the checkout is never written
    assert (run_dir / 'nanogpt' / 'train.py').exists()


def test_a_traceback_is_not_mistaken_for_progress() -> None:
    events = _parse('nanogpt_train_missing_data.log')
    assert not [t for t, _ in events if t in ('train', 'eval')]
    assert ('log', {'level': 'info', 'message': 'using fused AdamW: False'}) in events


def test_train_and_sample_with_the_real_checkout(tmp_path: Path, char_data_dir: Path, nanogpt_ref: Path) -> None:
    """nanoGPT's own train.py trains 4 iterations on our prepared data; its checkpoint loads in the lab."""
    from nanogpt_lab.events import EventLog, read_events
    from nanogpt_lab.model.checkpoint import load_checkpoint

    run_dir = tmp_path / 'run'
    cfg = TrainConfig(device='cpu', dataset='shakespeare_char', data_dir=str(char_data_dir), out_dir=str(run_dir),
                      n_layer=2, n_head=2, n_embd=32, block_size=16, batch_size=4, gradient_accumulation_steps=1,
                      max_iters=4, eval_interval=2, eval_iters=2, warmup_iters=1, lr_decay_iters=4)  # fmt: skip
    with EventLog(tmp_path / 'events.jsonl') as emit:
        summary = nc.run(cfg, emit, lambda: False, kind='train', checkout=str(nanogpt_ref), run_dir=run_dir)
        cfg_s = SampleConfig(out_dir=str(run_dir), device='cpu', num_samples=2, max_new_tokens=12, start='ROMEO:',
                             data_dir=str(char_data_dir))  # fmt: skip
        nc.run(cfg_s, emit, lambda: False, kind='sample', checkout=str(nanogpt_ref), run_dir=tmp_path / 'sample')
    events = list(read_events(tmp_path / 'events.jsonl'))
    train = [e for e in events if e['type'] == 'train']
    assert [e['iter'] for e in train] == [0, 1, 2, 3, 4] and train[-1]['tokens'] == 5 * 4 * 16
    assert [e['iter'] for e in events if e['type'] == 'eval'] == [0, 2, 4]
    assert summary['iter_num'] == 4 and summary['best_val_loss'] < 4.3
    samples = [e['text'] for e in events if e['type'] == 'sample']
    assert len(samples) == 2 and all(s.startswith('ROMEO:') and len(s) == 6 + 12 for s in samples)
    ckpt = load_checkpoint(run_dir)  # nanoGPT's checkpoint, read by the lab with weights_only=True
    assert ckpt['model_args']['n_layer'] == 2 and ckpt['iter_num'] == 4
