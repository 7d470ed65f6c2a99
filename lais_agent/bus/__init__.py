"""The D-Bus boundary: thin objects, the authorization gate, wire conversion."""
