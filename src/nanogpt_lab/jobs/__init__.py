"""Background jobs in subprocesses: prepare-data, download-weights, train, finetune, sample, export, bench."""
