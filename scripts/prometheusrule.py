"""Write deploy/kubernetes/monitoring/prometheusrule.yaml from deploy/prometheus/rules.yml.

    .venv/bin/python scripts/prometheusrule.py

One source of truth for the alert rules: plain Prometheus loads rules.yml, the Prometheus
Operator loads this PrometheusRule; tests/deploy/test_kubernetes.py checks they match.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
OUT = ROOT / "deploy" / "kubernetes" / "monitoring" / "prometheusrule.yaml"
HEADER = "# Generated from deploy/prometheus/rules.yml by scripts/prometheusrule.py; do not edit.\n"


def build(rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "openclaw", "namespace": "openclaw",
                     "labels": {"app.kubernetes.io/name": "openclaw", "role": "alert-rules"}},
        "spec": {"groups": rules["groups"]},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as | blocks, as in rules.yml."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render() -> str:
    return HEADER + yaml.dump(build(yaml.safe_load(RULES.read_text())), Dumper=_Dumper, sort_keys=False, width=120,
                              allow_unicode=True)


if __name__ == "__main__":
    OUT.write_text(render())
