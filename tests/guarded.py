"""Run the ``passeport`` CLI with the network guard installed: ``python tests/guarded.py ARGS``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import netguard

netguard.install()

from passeport.cli import main  # noqa: E402

raise SystemExit(main(sys.argv[1:]))
