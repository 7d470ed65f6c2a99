"""laisctl: the command-line client. Talks D-Bus only; never imports agent internals."""
