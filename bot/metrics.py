"""Prometheus metrics, each set in its own registry so every app instance (and test) starts at zero."""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from services.dispatcher import DrainResult


class Metrics:
    """The counters one web app exposes at /metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs_run = Counter("partnerbot_jobs_run_total", "Scheduled job ticks run by this worker",
                                ["job"], registry=r)
        self.jobs_failed = Counter("partnerbot_jobs_failed_total", "Scheduled job ticks that failed",
                                   ["job"], registry=r)
        self.job_firings = Counter("partnerbot_job_firings_total",
                                   "Scheduler firings in this worker by outcome: ok/failed ran here, "
                                   "skipped ran in another worker, paused ran nowhere", ["job", "outcome"],
                                   registry=r)
        self.outbox = Counter("partnerbot_outbox_rows_total", "Outbox rows handled by this worker, by outcome",
                              ["outcome"], registry=r)
        self.outbox_messages = Counter("partnerbot_outbox_messages_total",
                                       "Messages handed to senders successfully (a merged burst is one)", registry=r)
        self.outbox_status = Gauge("partnerbot_outbox_status_rows", "Outbox rows by status, read at scrape time",
                                   ["status"], registry=r)
        self.inbound = Counter("partnerbot_inbound_messages_total", "Inbound chat messages, by channel",
                               ["channel"], registry=r)
        for outcome in ("sent", "failed", "dead", "deferred"):
            self.outbox.labels(outcome)

    def job_outcome(self, job: str, outcome: str) -> None:
        """Counts one firing: `ok` and `failed` are runs; `skipped`/`paused` ran elsewhere or not at all."""
        self.job_firings.labels(job, outcome).inc()
        if outcome in ("ok", "failed"):
            self.jobs_run.labels(job).inc()
        if outcome == "failed":
            self.jobs_failed.labels(job).inc()

    def drained(self, result: DrainResult) -> None:
        """Counts one dispatcher pass."""
        for outcome in ("sent", "failed", "dead", "deferred"):
            if n := getattr(result, outcome):
                self.outbox.labels(outcome).inc(n)
        if result.messages:
            self.outbox_messages.inc(result.messages)

    def inbound_message(self, channel: str) -> None:
        self.inbound.labels(channel).inc()

    def set_outbox_status(self, counts: dict[str, int]) -> None:
        for status in ("pending", "sent", "merged", "dead"):
            self.outbox_status.labels(status).set(counts.get(status, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
