"""`python -m pipelines.cli`: the `detflow` command."""

import sys

from pipelines.cli import main

sys.exit(main())
