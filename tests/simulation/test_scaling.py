"""Predicted GPT-2 curves: Chinchilla's published form, starting at ln 50257, ending on nanoGPT's baselines."""

from __future__ import annotations

import math

import pytest

from nanogpt_lab.simulation import scaling


@pytest.mark.parametrize('model', list(scaling.BASELINE_VAL))
def test_curve_starts_at_uniform_loss_and_ends_on_its_anchor(model: str) -> None:
    curve = scaling.predicted_curve(model)
    assert curve.tokens[0] == 0 and curve.tokens[-1] == scaling.END_TOKENS
    assert curve.loss[0] == pytest.approx(math.log(50257), abs=1e-9)
    assert curve.loss[-1] == pytest.approx(scaling.BASELINE_VAL[model], abs=1e-9)
    assert all(a > b for a, b in zip(curve.loss, curve.loss[1:], strict=False)), 'a training curve only falls'


def test_anchors_are_nanogpts_published_baselines() -> None:
    assert scaling.BASELINE_VAL == {'gpt2': 3.12, 'gpt2-medium': 2.84, 'gpt2-large': 2.67, 'gpt2-xl': 2.54}
    assert scaling.END_TOKENS == 600_000 * 12 * 1024 * 40


def test_raw_formula_is_chinchillas_published_one() -> None:
    assert scaling.CHINCHILLA == {'E': 1.69, 'A': 406.4, 'B': 410.7, 'alpha': 0.34, 'beta': 0.28}
    # Chinchilla-70B's own point: 70e9 parameters, 1.4e12 tokens → about 1.94 (Hoffmann et al., eq. 10)
    assert scaling.chinchilla_loss(70e9, 1.4e12) == pytest.approx(1.94, abs=0.01)


def test_parameter_counts_are_gpt2s() -> None:
    counts = [scaling.gpt2_params(m) for m in scaling.BASELINE_VAL]
    assert counts == [124_439_808, 354_823_168, 774_030_080, 1_557_611_200]


def test_every_curve_says_it_is_predicted_and_from_where() -> None:
    for curve in scaling.gpt2_curves(points=20):
        d = curve.as_dict()
        assert len(d['tokens']) == len(d['loss']) == 20
        assert 'predicted from' in d['label'] and 'arXiv:2203.15556' in d['source']
        assert 'nanoGPT' in d['anchor_source']
        # the anchoring is visible: the raw formula's end point, and the shift and offset that move it
        assert d['chinchilla_end'] == scaling.chinchilla_loss(d['n_params'], scaling.END_TOKENS)
        end = scaling.chinchilla_loss(d['n_params'], scaling.END_TOKENS + d['shift_tokens']) + d['offset']
        assert end == pytest.approx(d['anchor_loss'], abs=1e-9)


def test_bigger_models_sit_lower_all_along() -> None:
    curves = scaling.gpt2_curves(points=50)
    for small, big in zip(curves, curves[1:], strict=False):
        assert all(s >= b for s, b in zip(small.loss[1:], big.loss[1:], strict=False))


def test_unknown_model_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'gpt3'.*gpt2, gpt2-medium"):
        scaling.predicted_curve('gpt3')
