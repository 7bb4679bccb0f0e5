import sys

from evallog.cli import main

sys.exit(main())
