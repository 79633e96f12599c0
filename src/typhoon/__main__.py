"""``python -m typhoon`` is the ``typhoon`` command."""

from typhoon.cli.main import main

raise SystemExit(main())
