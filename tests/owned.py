"""PIDs of long-lived processes that fixtures own (buses, mocks, agents, machines).

The leak check in tests/conftest.py ignores them and their descendants; fixtures
remove a PID once they have stopped the process.
"""

OWNED: set[int] = set()
