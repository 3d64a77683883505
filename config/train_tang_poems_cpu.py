# nanoGPT Lab's CPU recipe for the Tang poems (characters): a few minutes on 2 CPU cores and the model writes
# five- and seven-character lines in couplets, with the comma and the full stop where a poem has them.
# nanogpt-lab prepare tang_poems --simplified=True     (downloads chinese-poetry once; or --input FOLDER)
# nanogpt-lab train config/train_tang_poems_cpu.py
# nanogpt-lab sample --out_dir=out-tang-poems-cpu --start="春"
# docs/benchmarks.md has the measured loss, time and samples.

out_dir = 'out-tang-poems-cpu'
dataset = 'tang_poems'
device = 'cpu'
compile = False  # on CPU at this size compiling costs more than it saves
dtype = 'float32'

# a small char model: ~9,000 characters make the embedding (tied to the output layer) the biggest matrix
n_layer = 2
n_head = 4
n_embd = 128
block_size = 64  # a five-character quatrain with its title is about 60 characters
dropout = 0.0
batch_size = 12
gradient_accumulation_steps = 1

learning_rate = 3e-3
min_lr = 3e-4
warmup_iters = 50
max_iters = 1500
lr_decay_iters = 1500
beta2 = 0.99

eval_interval = 500
eval_iters = 20
log_interval = 10
always_save_checkpoint = False
eval_sample_tokens = 120  # a sample at each evaluation: lines take shape as the loss falls
