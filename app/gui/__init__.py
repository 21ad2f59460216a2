"""The Qt desktop app: widgets and signals only; the work happens in `core` (DESIGN §6)."""
