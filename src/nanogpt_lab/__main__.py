"""`python -m nanogpt_lab` is `nanogpt-lab`."""

from nanogpt_lab.cli import main

raise SystemExit(main())
