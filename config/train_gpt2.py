# GPT-2 (124M) on OpenWebText, nanoGPT's config/train_gpt2.py values (about 2.85 val loss after ~5 days on 8 A100s).
# nanogpt-lab prepare openwebtext
# torchrun --standalone --nproc_per_node=8 -m nanogpt_lab.cli train config/train_gpt2.py
#   (or: nanogpt-lab train config/train_gpt2.py --nproc_per_node=8)

wandb_log = True
wandb_project = 'owt'
wandb_run_name = 'gpt2-124M'

# 12 sequences × 1024 tokens × 5 accumulation steps × 8 GPUs = 491,520 tokens per step (~0.5M)
batch_size = 12
block_size = 1024
gradient_accumulation_steps = 5 * 8

# 600,000 steps × 491,520 tokens ≈ 300B tokens
max_iters = 600000
lr_decay_iters = 600000

eval_interval = 1000
eval_iters = 200
log_interval = 10

weight_decay = 1e-1
