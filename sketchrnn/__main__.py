"""``python -m sketchrnn ...`` is the ``sketchrnn`` command."""

from sketchrnn.cli import main

raise SystemExit(main())
