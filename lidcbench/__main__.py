import sys

from lidcbench.cli import main

sys.exit(main())
