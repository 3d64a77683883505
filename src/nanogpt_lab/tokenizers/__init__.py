"""Stage 2: char, GPT-2 BPE and SentencePiece unigram tokenizers, their comparison and a BPE replay."""
