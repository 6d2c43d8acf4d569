"""``python -m kerascope`` runs the command-line tool."""

from ._cli.commands import main

raise SystemExit(main())
