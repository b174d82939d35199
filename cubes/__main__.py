"""``python -m cubes …`` is the ``cubes`` command."""

from .cli import main

raise SystemExit(main())
