"""``python -m solvent`` runs the command line."""

import sys

from solvent.cli import main

sys.exit(main())
