"""Stage 1: turn text into nanoGPT-compatible train.bin / val.bin / meta.pkl, and read batches back."""
