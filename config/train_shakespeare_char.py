# A small character-level Shakespeare model: nanoGPT's config/train_shakespeare_char.py, same values.
# GPU: nanogpt-lab train config/train_shakespeare_char.py
# CPU: add --device=cpu --compile=False (or see train_shakespeare_char_cpu.py for a faster CPU recipe)

out_dir = 'out-shakespeare-char'
eval_interval = 250  # frequent, because this small dataset overfits
eval_iters = 200
log_interval = 10

always_save_checkpoint = False  # keep only the checkpoint with the best val loss

wandb_log = False
wandb_project = 'shakespeare-char'
wandb_run_name = 'mini-gpt'

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256  # 256 characters of context

n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2

learning_rate = 1e-3  # small networks tolerate a higher rate
max_iters = 5000
lr_decay_iters = 5000  # usually equal to max_iters
min_lr = 1e-4  # usually learning_rate / 10
beta2 = 0.99  # few tokens per step, so average the second moment over longer

warmup_iters = 100
