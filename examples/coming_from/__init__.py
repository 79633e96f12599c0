"""The worked ports of the docs/coming-from-*.md guides, one module per framework."""
