"""`python -m modeling_hilight.training.cli` still works (torchrun / accelerate lines written before the
dispatcher moved to `modeling_hilight.cli`)."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main())
