"""The DPO loss against a toy small enough to check by hand: a 2-token answer over a 2-token vocabulary."""

import math

import pytest
import torch

from nanogpt_lab.alignment.dpo_loss import dpo_loss, sequence_logps

LN3 = math.log(3.0)  # logits (ln 3, 0) give softmax (0.75, 0.25); logits (0, 0) give (0.5, 0.5)


def _toy() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows: chosen then rejected; position 0 is the prompt (target -1), positions 1-2 the answer's two tokens."""
    targets = torch.tensor([[-1, 0, 0], [-1, 1, 0]])
    policy = torch.tensor(
        [
            [[9.0, -9.0], [LN3, 0.0], [LN3, 0.0]],  # chosen: p = 0.75, 0.75
            [[9.0, -9.0], [LN3, 0.0], [0.0, 0.0]],  # rejected: p = 0.25, 0.5
        ]
    )
    reference = torch.zeros(2, 3, 2)  # every answer token at p = 0.5
    reference[:, 0] = torch.tensor([-9.0, 9.0])  # the prompt's position differs, and must not count
    return policy, reference, targets


def test_sequence_logps_sums_only_the_trained_tokens():
    policy, reference, targets = _toy()
    assert sequence_logps(policy, targets).tolist() == pytest.approx(
        [2 * math.log(0.75), math.log(0.25) + math.log(0.5)], abs=1e-6
    )
    assert sequence_logps(reference, targets).tolist() == pytest.approx([2 * math.log(0.5)] * 2, abs=1e-6)


def test_dpo_loss_matches_the_hand_computed_value():
    policy, reference, targets = _toy()
    policy = policy.requires_grad_()
    logp = sequence_logps(policy, targets)
    ref = sequence_logps(reference, targets)
    terms = dpo_loss(logp[:1], logp[1:], ref[:1], ref[1:], beta=0.1)
    # by hand: log π_θ/π_ref for y_w = 2 ln(0.75/0.5) = ln 2.25; for y_l = ln(0.25/0.5) + ln(0.5/0.5) = -ln 2
    # margin = 0.1 (ln 2.25 + ln 2) = 0.1 ln 4.5, loss = -ln σ(0.1 ln 4.5) = ln(1 + 4.5^-0.1) = 0.620768...
    assert float(terms.log_ratio_w) == pytest.approx(math.log(2.25), abs=1e-6)
    assert float(terms.log_ratio_l) == pytest.approx(-math.log(2), abs=1e-6)
    assert float(terms.reward_w) == pytest.approx(0.1 * math.log(2.25), abs=1e-6)
    assert float(terms.reward_l) == pytest.approx(-0.1 * math.log(2), abs=1e-6)
    assert terms.loss.item() == pytest.approx(0.6207684602, abs=1e-6)
    metrics = terms.metrics()
    assert metrics['reward_margin'] == pytest.approx(0.1 * math.log(4.5), abs=1e-6)
    assert metrics['preference_accuracy'] == 1.0
    assert metrics['chosen_logp_drift'] == pytest.approx(math.log(2.25), abs=1e-6)
    assert metrics['rejected_logp_drift'] == pytest.approx(-math.log(2), abs=1e-6)
    # the gradient pushes log π_θ(y_w|x) up and log π_θ(y_l|x) down, each by β σ(-margin) = 0.1 / (1 + 4.5^0.1)
    terms.loss.backward()
    step = 0.1 / (1 + 4.5**0.1)
    # d loss / d logit at a trained position = -(onehot - softmax) * d loss / d logp; position 0 gets nothing
    assert policy.grad[:, 0].abs().max() == 0
    assert policy.grad[0, 1].tolist() == pytest.approx([-step * 0.25, step * 0.25], abs=1e-6)
    assert policy.grad[1, 1].tolist() == pytest.approx([-step * 0.75, step * 0.75], abs=1e-6)


def test_equal_policy_and_reference_give_log_2():
    """At the start of training π_θ = π_ref: every reward is 0, the loss is ln 2 and no pair is preferred yet."""
    logp = torch.tensor([-3.0, -1.0, -7.0])
    terms = dpo_loss(logp, logp - 2, logp, logp - 2, beta=0.5)
    assert terms.loss.item() == pytest.approx(math.log(2), abs=1e-6)
    assert terms.metrics()['preference_accuracy'] == 0.0
    assert terms.metrics()['reward_margin'] == 0.0
