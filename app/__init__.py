"""Front ends: the `invertfill` command line (and, later, the Qt desktop app)."""
