"""The HTTP side: pages and the files they need (static/)."""
