"""``python -m collectors.simulator --help``"""

from .cli import main

raise SystemExit(main())
