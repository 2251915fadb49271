"""One module per step of the flow; each builds its widgets and returns them by name (no wiring)."""
