"""``python -m passeport``."""

from .cli import main

raise SystemExit(main())
