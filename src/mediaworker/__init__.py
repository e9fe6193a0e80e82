"""mediaworker."""
