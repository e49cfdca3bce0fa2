"""Observability: Prometheus metrics (`metrics`, `exposition`) and the request log.

`GET /metrics` serves the metrics; `RequestLog` gives each request an id and
one canonical JSON log line. Neither ever carries a personal value: labels and
log fields are route templates, statuses, problem codes and names the proxy
resolved itself (callers, purposes, revisions).
"""
