"""The state manager: the module lifecycle (pure), the state database and the store of
installed modules on it."""
