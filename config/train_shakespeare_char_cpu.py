# nanoGPT Lab's CPU recipe for tiny Shakespeare (characters): reaches the val loss of nanoGPT's README CPU command
# (1.898 over the whole val.bin in 64-character windows) in well under half of that command's wall time.
# nanogpt-lab prepare shakespeare_char
# nanogpt-lab train config/train_shakespeare_char_cpu.py
# docs/benchmarks.md has the measurements behind each choice.

out_dir = 'out-shakespeare-char-cpu'
dataset = 'shakespeare_char'
device = 'cpu'
compile = False  # measured: ~25 s of compiling for steps only 1.00-1.06x faster on CPU at this size
dtype = 'float32'  # bfloat16 autocast is slower than float32 at this width on CPUs without AMX

# the README's baby model, 2 layers deep instead of 4. At this budget depth does not buy quality: 1, 2, 3 and
# 4 layers reach the same val loss after the same number of steps (~1.81 after 1,500), but each step of a
# 2-layer model costs ~60% of a 4-layer one's
n_layer = 2
n_head = 4
n_embd = 128
block_size = 64
dropout = 0.0
batch_size = 12
gradient_accumulation_steps = 1

# a 4x higher peak learning rate and a shorter warmup: 1,400 steps then do more than 2,000 did at 1e-3
learning_rate = 4e-3
min_lr = 4e-4
warmup_iters = 50
max_iters = 1400
lr_decay_iters = 1400
beta2 = 0.99  # few tokens per step: average the second moment over longer

# evaluate rarely and briefly; the last iteration is always evaluated, and saved when it is the best
eval_interval = 700
eval_iters = 20
log_interval = 10
always_save_checkpoint = False
