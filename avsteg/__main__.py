import sys

from avsteg.cli import main

sys.exit(main())
