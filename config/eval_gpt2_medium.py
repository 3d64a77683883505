# Evaluate OpenAI's gpt2-medium on OpenWebText's val split, as nanoGPT's config/eval_gpt2_medium.py does.
# nanogpt-lab prepare openwebtext && nanogpt-lab download-weights gpt2-medium
# nanogpt-lab train config/eval_gpt2_medium.py
batch_size = 8
eval_iters = 500  # more batches for a tighter estimate
eval_only = True
wandb_log = False
init_from = 'gpt2-medium'
