"""Direct Preference Optimization's loss, written as the paper states it (Rafailov et al. 2023, eq. 7).

    L_DPO(π_θ; π_ref) = −E_(x, y_w, y_l)~D [ log σ( β log π_θ(y_w|x)/π_ref(y_w|x) − β log π_θ(y_l|x)/π_ref(y_l|x) ) ]

x is the prompt, y_w the preferred ("chosen") answer, y_l the dispreferred ("rejected") one, π_θ the policy being
trained and π_ref the frozen model it started from. log π(y|x) is the sum of the answer tokens' log-probabilities
(the renderer's loss mask picks them), and β log π_θ(y|x)/π_ref(y|x) is the implicit reward r̂(x, y) of §5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def sequence_logps(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log π(y|x) per sequence: the log-probabilities of the trained targets summed; targets of -1 count nothing.

    logits (B, T, V) and targets (B, T) as `GPT.forward` takes them; returns (B,). Computed in float32: a sum of
    hundreds of bf16 log-probabilities would lose the small differences DPO learns from.
    """
    b, t, v = logits.shape
    token_logps = -F.cross_entropy(
        logits.float().reshape(b * t, v), targets.reshape(b * t), ignore_index=-1, reduction='none'
    )  # (B*T,), 0 where the target is -1
    return token_logps.view(b, t).sum(dim=-1)


@dataclass(frozen=True)
class DpoTerms:
    """The loss and the paper's per-pair terms; everything but `loss` is detached (they are for reporting)."""

    loss: torch.Tensor  # scalar, differentiable through the policy's log-probabilities
    reward_w: torch.Tensor  # (B,) r̂(x, y_w) = β log π_θ(y_w|x)/π_ref(y_w|x)
    reward_l: torch.Tensor  # (B,) r̂(x, y_l)
    log_ratio_w: torch.Tensor  # (B,) log π_θ(y_w|x) − log π_ref(y_w|x): how far the chosen answer's log-prob moved
    log_ratio_l: torch.Tensor  # (B,) the same for the rejected answer

    def metrics(self) -> dict[str, float]:
        """Batch means for `train`/`eval` events: margin, preference accuracy and the two log-prob drifts."""
        margin = self.reward_w - self.reward_l
        return {
            'reward_margin': float(margin.mean()),
            'preference_accuracy': float((margin > 0).float().mean()),  # chosen scored above rejected
            'chosen_reward': float(self.reward_w.mean()),
            'rejected_reward': float(self.reward_l.mean()),
            'chosen_logp_drift': float(self.log_ratio_w.mean()),
            'rejected_logp_drift': float(self.log_ratio_l.mean()),
        }


def dpo_loss(
    policy_logp_w: torch.Tensor,
    policy_logp_l: torch.Tensor,
    reference_logp_w: torch.Tensor,
    reference_logp_l: torch.Tensor,
    beta: float,
) -> DpoTerms:
    """Eq. 7 over a batch of pairs: each argument is (B,) summed answer log-probabilities; β > 0 scales the rewards."""
    log_ratio_w = policy_logp_w - reference_logp_w  # log π_θ(y_w|x)/π_ref(y_w|x)
    log_ratio_l = policy_logp_l - reference_logp_l  # log π_θ(y_l|x)/π_ref(y_l|x)
    reward_w = beta * log_ratio_w  # r̂(x, y_w)
    reward_l = beta * log_ratio_l  # r̂(x, y_l)
    loss = -F.logsigmoid(reward_w - reward_l).mean()  # −E[log σ(r̂(x, y_w) − r̂(x, y_l))]
    return DpoTerms(loss, reward_w.detach(), reward_l.detach(), log_ratio_w.detach(), log_ratio_l.detach())


def chosen_nll(policy_logp_w: torch.Tensor, tokens_w: torch.Tensor) -> torch.Tensor:
    """−log π_θ(y_w|x) / |y_w|, averaged over the batch: the regulariser RPO adds to eq. 7 (Pang et al. 2024, eq. 3).

    DPO only asks that y_w gain on y_l; both may fall, and on a small model the preferred answers fall with the rest.
    Adding α times the preferred answers' per-token negative log-likelihood keeps them up.
    """
    return -(policy_logp_w / tokens_w).mean()
