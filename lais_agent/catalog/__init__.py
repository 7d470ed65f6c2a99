"""The module catalog: manifests (data, not code), their schema and the registry."""
