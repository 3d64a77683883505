"""Muon for the blocks' matrices with AdamW for the rest: the update is torch.optim.Muon's, it trains, it resumes."""

from __future__ import annotations

import pytest
import torch

from nanogpt_lab.config import ModelConfig, TrainConfig, build
from nanogpt_lab.model.gpt import GPT
from nanogpt_lab.training import optimizers
from nanogpt_lab.training.optimizers import MuonAdamW, orthogonalize


def test_newton_schulz_makes_every_direction_move_alike():
    g = torch.randn(96, 32, generator=torch.Generator().manual_seed(0)) @ torch.diag(torch.logspace(-2, 0, 32))
    assert torch.linalg.svdvals(g).max() / torch.linalg.svdvals(g).min() > 100
    s = torch.linalg.svdvals(orthogonalize(g))
    assert s.min() > 0.6 and s.max() < 1.25  # spread over 100x, they all land near 1


def test_the_muon_step_is_torch_optim_muons_up_to_the_iterations_precision():
    """Same momentum, Nesterov, decay and rate adjustment; torch's iterates in bfloat16, ours in float32 on a CPU."""
    torch.manual_seed(0)
    ours_p, torch_p = torch.nn.Parameter(torch.randn(64, 16)), None
    torch_p = torch.nn.Parameter(ours_p.detach().clone())
    ours = MuonAdamW([{'params': [ours_p], 'muon': True, 'weight_decay': 0.1}], (0.9, 0.95), 0.95, fused=False)
    theirs = torch.optim.Muon([torch_p], lr=0.02, weight_decay=0.1, momentum=0.95)
    for group in ours.param_groups:
        group['lr'] = 0.02
    for _ in range(3):
        grad = torch.randn(64, 16)
        ours_p.grad, torch_p.grad = grad.clone(), grad.clone()
        ours.step()
        theirs.step()
    moved = (ours_p - torch_p.detach()).abs().max() / (ours_p.detach().abs().max())
    assert moved < 0.02  # bfloat16's 3 significant digits, nothing more


def test_groups_put_only_the_blocks_matrices_under_muon():
    model = GPT(ModelConfig(n_layer=2, n_head=2, n_embd=16, block_size=8, vocab_size=11))
    muon, embeddings, rest = optimizers.muon_groups(model, 0.1, 5.0)
    assert len(muon['params']) == 2 * 4 and all(p.dim() == 2 for p in muon['params'])  # c_attn, c_proj, c_fc, c_proj
    assert {id(p) for p in embeddings['params']} == {id(model.transformer.wte.weight), id(model.transformer.wpe.weight)}
    assert muon['lr_scale'] == 5.0 and rest['weight_decay'] == 0.0 and all(p.dim() == 1 for p in rest['params'])
    cfg = build(TrainConfig, {'optimizer': 'muon', 'learning_rate': 4e-3, 'muon_lr': 0.02})
    assert isinstance(optimizers.make_optimizer(model, cfg, 'cpu'), MuonAdamW)
    assert isinstance(optimizers.make_optimizer(model, build(TrainConfig, {}), 'cpu'), torch.optim.AdamW)


def test_a_muon_run_trains_and_resumes_exactly(tiny, run_train, tmp_path):
    common = dict(optimizer='muon', muon_lr=0.02, max_iters=12, eval_interval=6)
    _, whole = run_train(tiny(out_dir=str(tmp_path / 'whole'), **common))
    trains = whole.of('train')
    assert trains[-1]['loss'] < trains[0]['loss'] - 0.3
    _, first = run_train(tiny(out_dir=str(tmp_path / 'split'), **{**common, 'max_iters': 6}))
    again = dict(init_from='resume', out_dir=str(tmp_path / 'split'), max_iters=12, device='cpu', compile=False)
    _, second = run_train(build(TrainConfig, again))
    losses = {e['iter']: e['loss'] for e in first.of('train') + second.of('train')}
    assert losses == pytest.approx({e['iter']: e['loss'] for e in trains}, abs=1e-6)
