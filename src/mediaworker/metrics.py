"""Prometheus metrics, updated by the job wrapper; served on METRICS_HOST:METRICS_PORT (by
default 127.0.0.1) when METRICS_PORT is set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# Metric names, each with its labels.
METRIC_JOBS = "mediaworker_jobs_total"  # labels: function, outcome
METRIC_JOB_SECONDS = "mediaworker_job_duration_seconds"  # labels: function
METRIC_JOBS_RUNNING = "mediaworker_jobs_running"  # labels: function

JOBS = Counter(METRIC_JOBS, "Job attempts by outcome", ["function", "outcome"])
JOB_SECONDS = Histogram(
    METRIC_JOB_SECONDS,
    "Job attempt duration",
    ["function"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
JOBS_RUNNING = Gauge(METRIC_JOBS_RUNNING, "Jobs running in this worker", ["function"])

_served_on: int | None = None


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Start the /metrics endpoint once per process (port 0: off), on `host` (METRICS_HOST:
    loopback unless the deployment says otherwise, as the endpoint has no authentication)."""
    global _served_on
    if port and _served_on is None:
        start_http_server(port, addr=host)
        _served_on = port
