"""The `mediaworker` command (`mediaworker.cli:main`): main.py parses and runs the commands,
services.py opens what they need, output.py prints tables or JSON."""

from __future__ import annotations

from mediaworker.cli.main import main

__all__ = ["main"]
