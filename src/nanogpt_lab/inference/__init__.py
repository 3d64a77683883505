"""Stage 6: sampling, streamed token by token, with every step of the sampling pipeline visible."""
