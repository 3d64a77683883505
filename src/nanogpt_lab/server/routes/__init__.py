"""The /api routers, one module per resource: jobs, runs, datasets, models (sizes, device, tokenize, generate)."""
