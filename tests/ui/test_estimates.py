"""Where stage 3's and stage 1's time estimates get their throughput: datasheets, measured, published."""

from __future__ import annotations

from nanogpt_lab import hardware
from nanogpt_lab.cpu_threads import usable_cores
from nanogpt_lab.ui import estimates


def test_gpu_peak_comes_from_the_datasheet_table() -> None:
    peak = estimates.gpu_peak('NVIDIA H100 80GB HBM3', 'bfloat16')
    assert peak.flops == 989e12 and peak.source == 'datasheet'
    assert estimates.gpu_peak('Some Future GPU', 'bfloat16').flops is None


def test_cpu_peak_is_measured_or_configured(monkeypatch, measured_peak) -> None:
    sessions = iter([hardware.PeakSession(80e9, 1.0), hardware.PeakSession(84e9, 0.9)])
    monkeypatch.setattr(hardware, '_measure_session', lambda dtype: next(sessions))
    measured = estimates.cpu_peak('float32')
    assert measured.source == 'measured' and measured.flops == 84e9 * usable_cores()  # the peak training uses
    assert f'{usable_cores()} × 84.0 GFLOP/s · float32 · ±5%' == measured.detail
    monkeypatch.setenv('NANOGPT_LAB_CPU_PEAK_TFLOPS', '2.5')
    configured = estimates.cpu_peak('float32')
    assert configured.flops == 2.5e12 and configured.source == 'configured'
    monkeypatch.delenv('NANOGPT_LAB_CPU_PEAK_TFLOPS')
    hardware.distrust_cpu_peak('float32')
    monkeypatch.setattr(hardware, '_measure_session', lambda dtype: hardware.PeakSession(50e9, 0.0))
    assert estimates.cpu_peak('float32').source == 'unknown'  # a saturated machine: no estimate, not a wrong one


def test_time_per_iteration_is_flops_over_achieved_rate() -> None:
    assert estimates.seconds_per_iter(6e6, 1000, 1e12, 0.5) == 6e9 / 5e11


def test_openwebtext_figures_are_nanogpts() -> None:
    owt = estimates.OPENWEBTEXT
    assert owt['train_tokens'] == 9_035_582_198 and owt['val_tokens'] == 4_434_897 and owt['documents'] == 8_013_769
    assert estimates.bpe_tokens_per_second('hello world, ' * 500) > 1000
    assert estimates.prepare_processes() >= 1
