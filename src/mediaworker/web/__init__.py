"""The HTTP API (and, beside it, the dashboard): `create_app(settings)`, run by `mediaworker
serve` on uvicorn. An optional extra: `pip install mediaworker[web]`."""
