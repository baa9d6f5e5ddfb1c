"""`python -m sample_data OUT --num-images N ...`: writes a sample dataset (see `sample_data.generate`)."""

import sys

from sample_data.generate import main

sys.exit(main())
