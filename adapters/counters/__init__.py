"""Counters behind `governance.ports.Counters`: in-process (one process) and Redis (shared)."""
