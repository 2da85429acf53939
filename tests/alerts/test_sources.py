"""Pure parsing of saved Alertmanager payloads and generic alerts."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.alerts.dedup import segments
from app.alerts.errors import AlertParseError
from app.alerts.sources import alertmanager, generic
from app.alerts.types import AlertStatus, Severity
from tests.alerts.conftest import am_alert, am_payload, fixture, generic_alert


def test_alertmanager_firing_payload_is_normalised() -> None:
    first, second = alertmanager.parse(fixture("firing.json"))
    assert first.source == "alertmanager" and first.status is AlertStatus.FIRING
    assert first.fingerprint == "am:b2f3a7c1d4e5f601"
    assert (first.alertname, first.severity, first.host, first.service) == ("HighCPU", Severity.CRITICAL, "web-01", "nginx")
    assert first.summary == "CPU above 95% for 5m"
    assert first.starts_at == datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)
    assert first.ends_at is None  # Go's zero time on a firing alert
    assert first.annotations["runbook_url"].endswith("/cpu")
    assert second.host == "::1" and second.severity is Severity.WARNING and second.generator_url is None
    assert second.summary == "CPU above 80%"


def test_alertmanager_resolved_payload_carries_end_time() -> None:
    (alert,) = alertmanager.parse(fixture("resolved.json"))
    assert alert.status is AlertStatus.RESOLVED
    assert alert.ends_at == datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
    assert alert.fingerprint == alertmanager.parse(fixture("firing.json"))[0].fingerprint


def test_alertmanager_without_fingerprint_hashes_labels_and_uses_common_labels() -> None:
    (alert,) = alertmanager.parse(fixture("no_fingerprint.json"))
    assert alert.alertname == "DiskFull" and alert.severity is Severity.CRITICAL  # "page" from commonLabels
    assert alert.host == "db-01" and alert.summary == "/var is 97% full"
    assert alert.starts_at == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    again = alertmanager.parse(fixture("no_fingerprint.json"))[0]
    assert alert.fingerprint == again.fingerprint and alert.fingerprint.startswith("am:")


@pytest.mark.parametrize(("payload", "reason"), [
    ([], "JSON object"),
    ({"version": "3", "alerts": []}, "version"),
    ({"version": "4", "alerts": {}}, "alerts must be a list"),
    ({"version": "4", "alerts": [{"labels": {}}]}, "alertname"),
    ({"version": "4", "alerts": [{"labels": {"alertname": "X"}, "status": "burning"}]}, "status"),
    ({"version": "4", "alerts": [{"labels": {"alertname": "X"}, "startsAt": "yesterday"}]}, "RFC 3339"),
    ({"version": "4", "alerts": [{"labels": {"alertname": ["X"]}}]}, "must be a string"),
])
def test_alertmanager_rejects_malformed_payloads_with_a_reason(payload: object, reason: str) -> None:
    with pytest.raises(AlertParseError, match=reason):
        alertmanager.parse(payload)


def test_alertmanager_limits_alerts_per_request() -> None:
    payload = am_payload(*[am_alert(fingerprint=f"{i:016x}") for i in range(3)])
    with pytest.raises(AlertParseError, match="too many"):
        alertmanager.parse(payload, max_alerts=2)


def test_generic_single_and_list_give_the_same_stable_fingerprint() -> None:
    (one,) = generic.parse(generic_alert(value=93.5, timestamp=1763719200))
    listed = generic.parse([generic_alert(), generic_alert(severity="critical")])
    assert one.fingerprint == listed[0].fingerprint != listed[1].fingerprint
    assert one.value == "93.5" and one.alertname == "disk_used" and one.labels["metric"] == "disk_used"
    assert one.starts_at == datetime.fromtimestamp(1763719200, UTC)


def test_generic_fingerprint_fields_are_configurable() -> None:
    keys = ("source", "host", "metric")
    warning, critical = generic.parse([generic_alert(severity="warning"), generic_alert(severity="critical")], keys=keys)
    assert warning.fingerprint == critical.fingerprint
    a, b = generic.parse([generic_alert(labels={"disk": "/"}), generic_alert(labels={"disk": "/var"})],
                         keys=("host", "labels.disk"))
    assert a.fingerprint != b.fingerprint


def test_generic_resolved_status_and_timestamp_in_milliseconds() -> None:
    (alert,) = generic.parse(generic_alert(status="resolved", timestamp=1763719200123))
    assert alert.status is AlertStatus.RESOLVED
    assert alert.ends_at == datetime(2025, 11, 21, 10, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(("payload", "reason"), [
    ([], "no alerts"),
    ("text", "must be an object"),
    ({**generic_alert(), "severity": "bad"}, "severity must be critical, warning or info"),
    ({k: v for k, v in generic_alert().items() if k != "host"}, "host is required"),
    ({**generic_alert(), "status": "open"}, "status must be firing or resolved"),
    ({**generic_alert(), "colour": "red"}, "unknown field 'colour'"),
    ({**generic_alert(), "labels": ["a"]}, "labels must be an object"),
    ({**generic_alert(), "timestamp": "soon"}, "RFC 3339"),
])
def test_generic_rejects_bad_alerts_with_a_reason(payload: object, reason: str) -> None:
    with pytest.raises(AlertParseError, match=reason):
        generic.parse(payload)


def test_segments_fold_repeats_and_keep_fire_resolve_fire_order() -> None:
    fire = generic.parse(generic_alert())[0]
    resolve = generic.parse(generic_alert(status="resolved"))[0]
    other = generic.parse(generic_alert("cpu"))[0]
    parts = segments([fire, other, fire, resolve, fire])
    assert [(list(s.firing), list(s.resolved)) for s in parts] == [
        ([fire.fingerprint, other.fingerprint], []), ([], [fire.fingerprint]), ([fire.fingerprint], [])]
    assert parts[0].firing[fire.fingerprint].times == 2
