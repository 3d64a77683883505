"""Stages 4 and 5: the pretraining and fine-tuning loop, single process or DDP under torchrun."""
