"""Read-only data sources other than a shell on the host: Prometheus (/status) and Elasticsearch (/logs).

A plan step whose command is a Query is answered by its source instead of a
runner. The source returns one RunResult per host it could answer for, and the
hosts it could not (the engine runs the step's SSH fallback on those), plus a
note when the source itself failed.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.automation.transport import RunResult
from app.inventory.schema import Host


@dataclass(frozen=True)
class Sources:
    """Which sources are configured (PROMETHEUS_URL, ELASTICSEARCH_URL); plans depend on it."""

    prometheus: bool = False
    elasticsearch: bool = False

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Sources:
        return cls(prometheus=bool(config.get("PROMETHEUS_URL")), elasticsearch=bool(config.get("ELASTICSEARCH_URL")))


@dataclass(frozen=True)
class Query:
    """A read-only request to a source, standing where a Command would: what to ask, with which values."""

    source: str                      # "prometheus" | "elasticsearch"
    what: str                        # "health" | "unit" | "logs"
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, source: str, what: str, **params: Any) -> Query:
        return cls(source, what, tuple(sorted(params.items())))

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.params)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "what": self.what, "params": self.values}

    def shell_line(self) -> str:
        """How the step reads in plans, audit records and the execution_hosts table."""
        shown = " ".join(f"{k}={json.dumps(v)}" for k, v in self.params if v is not None)
        return f"{self.source} {self.what}" + (f" {shown}" if shown else "")


@dataclass
class SourceRun:
    """What a source answered: results per host, hosts left to the fallback, and a note when it failed."""

    results: list[RunResult] = field(default_factory=list)
    fallback_hosts: tuple[str, ...] = ()
    note: str | None = None


def run_query(query: Query, hosts: Mapping[str, Host], names: tuple[str, ...], config: Mapping[str, Any]) -> SourceRun:
    """Answer query for the named hosts from its source."""
    if query.source == "prometheus":
        from app.automation import prometheus

        return prometheus.run(query, hosts, names, config)
    if query.source == "elasticsearch":
        from app.automation import elasticsearch

        return elasticsearch.run(query, names, config)
    raise ValueError(f"unknown source {query.source!r}")
