"""Allow ``python -m app``."""

from selfheal.cli import main

raise SystemExit(main())
