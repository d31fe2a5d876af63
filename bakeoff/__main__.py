import sys

from bakeoff.cli import main

sys.exit(main())
