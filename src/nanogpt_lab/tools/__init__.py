"""Scripts behind `nanogpt-lab bench` and `nanogpt-lab sim record`: they drive the engine, the server and the UI
from outside, so they may import anything, and only `cli.py` imports them (import-linter checks it)."""
