"""The local HTTP API (FastAPI) and its server-sent event streams."""
