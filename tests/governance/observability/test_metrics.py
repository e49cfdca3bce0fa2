"""GET /metrics of one process: what each governed request adds, and what a scrape shows.

Metrics are per process and every test's app adds to them, so each test
compares a value before and after what it does.
"""

from factories import auth, subjects
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from governance.observability.metrics import gauge

RECORDS = "/v1/datasets/{dataset}/records/{subject_id}"
DOCUMENTED = {
    "govproxy_requests": "counter",
    "govproxy_request_duration_seconds": "histogram",
    "govproxy_policy_decisions": "counter",
    "govproxy_policy_evaluation_seconds": "histogram",
    "govproxy_policy_revision_info": "gauge",
    "govproxy_consent_lookups": "counter",
    "govproxy_audit_queue_depth": "gauge",
    "govproxy_audit_commit_seconds": "histogram",
    "govproxy_audit_events_committed": "counter",
    "govproxy_audit_commit_failures": "counter",
    "govproxy_audit_checkpoint_sealing_failed": "gauge",
    "govproxy_audit_checkpoint_age_seconds": "gauge",
    "govproxy_audit_checkpoint_tree_size": "gauge",
}


def value(name, **labels):
    """The current value of one sample of this process (0 if it has none yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def families(client):
    """Name -> family of a scrape of /metrics."""
    return {
        f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)
    }


class TestScrape:
    def test_every_documented_metric_is_served_with_its_type(self, client):
        """The scrape holds each metric the README documents, of its type."""
        served = families(client)

        assert {n: served[n].type for n in DOCUMENTED if n in served} == DOCUMENTED

    def test_it_is_the_prometheus_text_format(self, client):
        """Content type 0.0.4, which every Prometheus server reads."""
        response = client.get("/metrics")

        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")

    def test_consent_lookups_say_there_is_no_cache(self, client):
        """The help text says why a consent lookup is never cached."""
        help_text = families(client)["govproxy_consent_lookups"].documentation

        assert "no consent cache" in help_text

    def test_the_revision_in_force_is_one(self, client):
        """The bundle revision the app decides with is labelled and set to 1."""
        revision = client.get("/healthz").json()["policy"]["revision"]

        assert value("govproxy_policy_revision_info", revision=revision) == 1


class TestGovernedRequests:
    def test_a_refused_read_counts_under_its_route_template_and_code(
        self, client, keys
    ):
        """Route template, method, status and problem code; never the subject's id."""
        labels = {
            "route": RECORDS,
            "method": "GET",
            "status": "404",
            "code": "unknown_subject",
        }
        before = value("govproxy_requests_total", **labels)

        client.get(
            "/v1/datasets/customers/records/C999999",
            headers=auth(keys["brand-app"], "order_fulfilment"),
        )

        assert value("govproxy_requests_total", **labels) == before + 1
        assert "C999999" not in client.get("/metrics").text

    def test_a_consented_read_looks_consent_up_once_and_audits_once(
        self, client, keys, demo_dir
    ):
        """One consent lookup, one committed event, nothing left queued."""
        sid = subjects(demo_dir, minor=False)[0]
        before = (
            value("govproxy_consent_lookups_total"),
            value("govproxy_audit_events_committed_total"),
            value("govproxy_audit_commit_seconds_count"),
        )

        client.get(
            f"/v1/datasets/customers/records/{sid}",
            headers=auth(keys["campaign-sms"], "marketing_push"),
        )

        after = (
            value("govproxy_consent_lookups_total"),
            value("govproxy_audit_events_committed_total"),
            value("govproxy_audit_commit_seconds_count"),
        )
        assert after[:2] == (before[0] + 1, before[1] + 1)
        assert after[2] >= before[2] + 1
        assert value("govproxy_audit_queue_depth") == 0

    def test_a_repeated_access_shape_is_a_cache_hit(self, client, keys, demo_dir):
        """The first read of a shape asks the engine; the same shape again does not."""
        adults = subjects(demo_dir, minor=False)
        headers = auth(keys["brand-app"], "order_fulfilment")
        read = "/v1/datasets/customers/records/{}"
        before = {
            c: value("govproxy_policy_decisions_total", cache=c)
            for c in ("hit", "miss")
        }
        evaluations = value("govproxy_policy_evaluation_seconds_count")

        for sid in adults[:2]:
            assert client.get(read.format(sid), headers=headers).status_code == 200

        assert {
            c: value("govproxy_policy_decisions_total", cache=c) - before[c]
            for c in ("hit", "miss")
        } == {"hit": 1, "miss": 1}
        assert value("govproxy_policy_evaluation_seconds_count") == evaluations + 1


class TestExtraGauge:
    def test_a_registered_gauge_is_served_and_combines_workers_by_its_aggregate(
        self, client
    ):
        """`gauge()` registers a gauge the scrape shows; `min` means all must be up."""
        up = gauge("govproxy_test_dependency_up", "1 when it answers.", aggregate="min")
        try:
            up.set(1)

            served = families(client)["govproxy_test_dependency_up"]

            assert [s.value for s in served.samples] == [1.0]
            assert up._multiprocess_mode == "livemin"
        finally:
            REGISTRY.unregister(up)
