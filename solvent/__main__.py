"""``python -m solvent`` runs the command line."""

import sys

from solvent.cli import console_main

sys.exit(console_main())
