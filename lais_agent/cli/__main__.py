"""``python -m lais_agent.cli`` runs laisctl."""

from lais_agent.cli.main import main

main()
