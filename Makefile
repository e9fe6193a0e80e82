# Thin wrappers: the logic lives in ./scripts/run (which CI and the README use too).
# Extra arguments: make test ARGS="-k thumbnails -x"
RUN := ./scripts/run
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install lint typecheck test demo bench services

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## create .venv and install mediaworker[dev] (and ffmpeg)
	$(RUN) bootstrap

lint: ## ruff check, ruff format --check, mypy --strict
	$(RUN) lint

typecheck: ## mypy --strict
	$(RUN) typecheck

test: ## start Redis/PostgreSQL if needed, then pytest $(ARGS)
	$(RUN) test $(ARGS)

demo: ## the end-to-end demo (starts a private Redis/PostgreSQL if none is configured)
	$(RUN) demo $(ARGS)

bench: ## run every scripts/bench_*.py
	$(RUN) bench

services: ## make sure Redis and PostgreSQL answer (install/start them if needed)
	$(RUN) services
