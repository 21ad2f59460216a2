"""Front ends: the `invertfill` command line and the Qt desktop app (app.gui)."""
