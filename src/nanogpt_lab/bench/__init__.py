"""Benchmarks behind `nanogpt-lab bench`: sampling, training, the server and the UI."""
