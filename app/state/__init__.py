"""Per-tab reactive stores. They talk to app.client only."""
