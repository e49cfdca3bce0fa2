"""`python -m governance` is `govproxy`."""

import sys

from governance.cli.main import main

sys.exit(main())
