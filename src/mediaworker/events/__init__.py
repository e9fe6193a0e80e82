"""Events a job sends out: its progress (Redis) and signed completion webhooks (an outbox)."""
