"""``python -m simcluster --help``"""

from .cli import main

raise SystemExit(main())
