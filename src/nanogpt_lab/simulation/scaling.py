"""Predicted GPT-2 loss curves on OpenWebText from a published scaling law, anchored to nanoGPT's baselines.

Nothing here was measured by the lab: every curve is a formula with its source named, and the UI labels it
"predicted from ...". The form and constants are Chinchilla's (Hoffmann et al. 2022, "Training Compute-Optimal
Large Language Models", arXiv:2203.15556, Approach 3, eq. 10 and Table A3 / §D.2):

    L(N, D) = E + A / N^α + B / D^β     E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28

with N the model's parameters and D the training tokens. Chinchilla fitted it on MassiveText with its own
tokenizer, so its numbers are not OpenWebText losses under GPT-2's tokenizer, and it has no value at D = 0 (the
data term diverges). Two honest, visible adjustments turn it into a training curve a learner can compare with:

1. A horizontal shift D0: the curve is L(N, D + D0). At D = 0 an untrained GPT-2 predicts the uniform
   distribution over its 50,257 tokens, loss ln 50257 ≈ 10.82, so D0 is the "effective tokens" at which the data
   term has fallen that far. It only moves the first few million tokens of the curve.
2. A vertical offset c: the whole curve moves up or down so that its end point (D = 300B tokens, nanoGPT's
   `config/train_gpt2.py` budget: 600,000 steps × 491,520 tokens) equals nanoGPT's published val loss of the
   OpenAI checkpoint on OpenWebText (README "baselines": 3.12, 2.84, 2.67, 2.54). c absorbs the dataset and
   tokenizer gap (and WebText vs OpenWebText); we report it, with Chinchilla's own end-point prediction, beside
   every curve, so the learner can see how far the raw formula was from the measured number.

Both are solved exactly (D0 by bisection, then c). What remains Chinchilla's is the curve's shape: the power law
B / (D + D0)^β, falling fast then slowly. The model-size term A / N^α is constant along one curve, so after
anchoring each curve's level is nanoGPT's baseline; Chinchilla's size dependence is shown as `chinchilla_end`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from nanogpt_lab.errors import LabError

# Hoffmann et al. 2022, Approach 3 (parametric fit of the loss), as published.
CHINCHILLA = {'E': 1.69, 'A': 406.4, 'B': 410.7, 'alpha': 0.34, 'beta': 0.28}
CHINCHILLA_SOURCE = 'Chinchilla scaling law (Hoffmann et al. 2022, arXiv:2203.15556, Approach 3)'
BASELINE_SOURCE = "nanoGPT README 'baselines': OpenAI's GPT-2 checkpoints evaluated on OpenWebText val"

GPT2_VOCAB = 50257
START_LOSS = math.log(GPT2_VOCAB)  # cross-entropy of a uniform guess over GPT-2's vocabulary
TOKENS_PER_STEP = 12 * 1024 * 40  # nanoGPT's config/train_gpt2.py: batch 12 × block 1024 × accumulation 40
END_TOKENS = 600_000 * TOKENS_PER_STEP  # max_iters 600,000 → 294,912,000,000 ≈ 300B tokens

# nanoGPT's val losses for the OpenAI checkpoints on OpenWebText (README, "baselines")
BASELINE_VAL = {'gpt2': 3.12, 'gpt2-medium': 2.84, 'gpt2-large': 2.67, 'gpt2-xl': 2.54}


def gpt2_params(model: str) -> int:
    """All parameters of a GPT-2 size (embeddings included, tied head counted once): the N Chinchilla counts.

    Chinchilla counts every parameter, Kaplan et al. only the non-embedding ones (Pearce & Song 2024 trace most of
    the two papers' disagreement to this); gpt2 → 124,439,808, as Hugging Face reports.
    """
    from nanogpt_lab.model.sizes import count_params, preset_config  # torch-free arithmetic

    if model not in BASELINE_VAL:
        raise LabError('weights.unknown_model', name=model, pretrained=', '.join(BASELINE_VAL))
    return count_params(preset_config(model))


def chinchilla_loss(n_params: float, tokens: float) -> float:
    """Chinchilla's L(N, D) exactly as published (MassiveText, its own tokenizer): no anchoring."""
    k = CHINCHILLA
    return k['E'] + k['A'] / n_params ** k['alpha'] + k['B'] / tokens ** k['beta']


def _data_term(tokens: float) -> float:
    return CHINCHILLA['B'] / tokens ** CHINCHILLA['beta']


def _solve_shift(drop: float, end_tokens: float) -> float:
    """D0 such that B/D0^β − B/(end + D0)^β = drop (the loss fall from start to end); bisection in log space."""
    lo, hi = 1.0, 1e15  # the left side falls monotonically as D0 grows
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if _data_term(mid) - _data_term(end_tokens + mid) > drop:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


@dataclass(frozen=True)
class PredictedCurve:
    """One predicted training curve: tokens seen → val loss, with everything needed to say where it came from."""

    model: str
    n_params: int
    tokens: list[float]
    loss: list[float]
    anchor_loss: float  # nanoGPT's measured val loss the end point is pinned to
    end_tokens: float
    shift_tokens: float  # D0
    offset: float  # c
    chinchilla_end: float  # Chinchilla's raw L(N, end_tokens), before the offset
    label: str
    source: str = CHINCHILLA_SOURCE
    anchor_source: str = BASELINE_SOURCE
    constants: dict = field(default_factory=lambda: dict(CHINCHILLA))

    def as_dict(self) -> dict:
        """Plain JSON for the API and the charts."""
        return asdict(self)


def predicted_loss(n_params: float, tokens: float, shift_tokens: float, offset: float) -> float:
    """The anchored curve: Chinchilla's L(N, D + D0) + c."""
    return chinchilla_loss(n_params, tokens + shift_tokens) + offset


def predicted_curve(model: str, points: int = 200, end_tokens: float = END_TOKENS) -> PredictedCurve:
    """The predicted val-loss curve of a GPT-2 size trained on OpenWebText, from ln 50257 to its baseline."""
    if model not in BASELINE_VAL:
        raise LabError('weights.unknown_model', name=model, pretrained=', '.join(BASELINE_VAL))
    if points < 2:
        raise LabError('config.pydantic.greater_than_equal', key='points', value=points, ge=2)
    n = gpt2_params(model)
    anchor = BASELINE_VAL[model]
    shift = _solve_shift(START_LOSS - anchor, end_tokens)
    offset = anchor - chinchilla_loss(n, end_tokens + shift)
    # log-spaced after the first point: the curve changes fastest at the start
    first = end_tokens / 1e6
    tokens = [0.0] + [first * (end_tokens / first) ** (i / (points - 2)) for i in range(points - 1)]
    tokens[-1] = float(end_tokens)
    loss = [predicted_loss(n, d, shift, offset) for d in tokens]
    return PredictedCurve(
        model=model,
        n_params=n,
        tokens=tokens,
        loss=loss,
        anchor_loss=anchor,
        end_tokens=float(end_tokens),
        shift_tokens=shift,
        offset=offset,
        chinchilla_end=chinchilla_loss(n, end_tokens),
        label=f'{model}: predicted from {CHINCHILLA_SOURCE}, anchored to nanoGPT baseline val {anchor}',
    )


def gpt2_curves(points: int = 200) -> list[PredictedCurve]:
    """The four GPT-2 sizes' predicted curves, smallest first."""
    return [predicted_curve(m, points) for m in BASELINE_VAL]
