"""``python -m lais_agent`` runs the daemon."""

from lais_agent.daemon.main import main

main()
