"""Measuring models: losses over random batches or a whole val.bin, perplexity, and stage 5's before-and-after.

Stage 7 adds its reports here (DESIGN §6). Modules import torch themselves; importing this package stays cheap.
"""
