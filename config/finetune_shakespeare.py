# Fine-tune OpenAI's GPT-2 XL on tiny Shakespeare (GPT-2 BPE), nanoGPT's config/finetune_shakespeare.py values.
# nanogpt-lab prepare shakespeare && nanogpt-lab download-weights gpt2-xl
# nanogpt-lab train config/finetune_shakespeare.py

out_dir = 'out-shakespeare'
eval_interval = 5
eval_iters = 40
wandb_log = False
wandb_project = 'shakespeare'
wandb_run_name = 'ft-shakespeare'

dataset = 'shakespeare'
init_from = 'gpt2-xl'  # the largest GPT-2

always_save_checkpoint = False  # save only when val loss improves

# 1 sequence × 32 accumulation steps × 1024 tokens = 32,768 tokens per step;
# shakespeare has 301,966 training tokens, so one epoch is about 9.2 steps
batch_size = 1
gradient_accumulation_steps = 32
max_iters = 20

# a small constant learning rate: move the pretrained weights, do not overwrite them
learning_rate = 3e-5
decay_lr = False
