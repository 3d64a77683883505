"""nanoGPT Lab: learn GPT-2 by doing it, simulated first, then for real, compatible with nanoGPT and Hugging Face."""

__version__ = '0.1.0'
