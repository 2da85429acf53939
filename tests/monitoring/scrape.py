"""Read Prometheus exposition text into {(name, labels): value} for assertions."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, frozenset[tuple[str, str]]]


def samples(text: str) -> dict[Sample, float]:
    """Every sample of an exposition, keyed by sample name and its label set."""
    found: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def total(found: dict[Sample, float], name: str, /, **labels: str) -> float:
    """The sum of a sample's values over every label set that contains `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, label_set), value in found.items() if sample == name and wanted <= label_set)


def label_values(found: dict[Sample, float], name: str, label: str) -> set[str]:
    return {dict(label_set)[label] for (sample, label_set) in found if sample == name and label in dict(label_set)}


def family_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}
