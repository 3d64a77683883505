# nanoGPT Lab's CPU recipe for tiny Shakespeare (characters): reaches the val loss of nanoGPT's README CPU command
# (1.898 over the whole val.bin in 64-character windows) in a fraction of that command's wall time.
# nanogpt-lab prepare shakespeare_char
# nanogpt-lab train config/train_shakespeare_char_cpu.py
# docs/benchmarks.md has the measurements behind each choice (`nanogpt-lab bench train --suite=recipe`).

out_dir = 'out-shakespeare-char-cpu'
dataset = 'shakespeare_char'
device = 'cpu'
compile = False  # measured: ~25 s of compiling for steps only 1.00-1.06x faster on CPU at this size
dtype = 'float32'  # bfloat16 autocast is slower than float32 at this width on CPUs without AMX

# the README's baby model, 2 layers deep instead of 4. At this budget depth does not buy quality: 1, 2, 3 and
# 4 layers reach about the same val loss after the same number of steps, and a 2-layer step costs ~60% of a
# 4-layer one's
n_layer = 2
n_head = 4
n_embd = 128
block_size = 64
dropout = 0.0

# Muon (modded-nanogpt's optimizer) for the blocks' weight matrices, AdamW for embeddings, gains and biases.
# A Muon step teaches more than an AdamW step but costs a fixed amount of matrix work per step, whatever the
# batch: 24 sequences per step pay it half as often as 12. 350 steps reach the target (1.850 and 1.868 over
# two seeds) where AdamW at its best rate needed ~1,300
optimizer = 'muon'
muon_lr = 0.03
batch_size = 24
gradient_accumulation_steps = 1

# warmup, a constant peak, then a straight line to zero over the last half (warmup-stable-decay)
learning_rate = 4e-3  # AdamW's part: 4x nanoGPT's
min_lr = 0.0
warmup_iters = 50
max_iters = 350
lr_decay_iters = 350
cooldown_iters = 175
beta2 = 0.99  # few tokens per step: average the second moment over longer

# evaluate at the start and the end only, briefly; the last iteration is evaluated and saved when it is the best
eval_interval = 350
eval_iters = 20
log_interval = 10
always_save_checkpoint = False
