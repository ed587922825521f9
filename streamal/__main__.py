"""``python -m streamal`` runs the CLI."""

from streamal.cli import main

raise SystemExit(main())
