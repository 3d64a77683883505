"""Stage 7: from a text predictor to an assistant. The chat template and its renderer (`template`), conversations
data (`conversations`, `lab_tasks`, `packed`), and supervised fine-tuning (`sft`).

`template` is torch-free, so a page can render a conversation's tokens and loss mask without loading torch.
"""
