"""``python -m stilton`` runs the command line."""

from stilton.cli.main import main

main()
