"""``python -m mechscope``: the same CLI as the ``mechscope`` command."""

import sys

from mechscope.cli import main

sys.exit(main())
