"""Deployment files checked, not only written: hadolint, the Compose schema, Kubernetes schemas."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
KUBE = ROOT / "deploy" / "kubernetes"
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "schemas" / "compose-spec.json"
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}  # CRDs: not in kubernetes-validate's schemas


def tool(name: str) -> str:
    found = shutil.which(name) or str(BIN / name)
    if not Path(found).exists():
        pytest.skip(f"{name} is not installed (pip install -r requirements-test.txt)")
    return found


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(KUBE.rglob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in documents(path)]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


# -- Dockerfile and Compose -----------------------------------------------------------------


def test_hadolint_passes_the_dockerfile() -> None:
    done = subprocess.run([tool("hadolint"), "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "Dockerfile")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    done = subprocess.run([tool("hadolint"), "--config", str(ROOT / ".hadolint.yaml"), str(bad)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "DL3007" in done.stdout  # :latest


def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    return jsonschema.Draft201909Validator(schema)


def test_docker_compose_matches_the_compose_specification() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in compose_validator().iter_errors(compose)]
    assert errors == []


def test_the_compose_schema_rejects_a_broken_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose["services"]["web"]["restart_policy"] = "always"  # not a service key
    compose["services"]["worker"]["depends_on"] = {"migrate": {"condition": "started"}}  # not a condition
    assert len(list(compose_validator().iter_errors(compose))) == 2


# -- Kubernetes -----------------------------------------------------------------------------


def test_every_kubernetes_manifest_validates_strictly() -> None:
    files = sorted(str(path) for path in KUBE.rglob("*.yaml") if path.name != "kustomization.yaml"
                   and not {doc["kind"] for doc in documents(path)} & OPERATOR_KINDS)
    done = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", *files], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hpa.yaml" in " ".join(files) and "pdb.yaml" in " ".join(files)


def test_kubernetes_validate_would_catch_a_typo(tmp_path: Path) -> None:
    doc = by_kind("Deployment")["openclaw-web"]
    doc = json.loads(json.dumps(doc))
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc))
    done = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", str(tmp_path / "bad.yaml")],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "httpGett" in done.stdout + done.stderr


def test_every_kustomization_lists_every_manifest_in_its_folder() -> None:
    for kustomization in KUBE.rglob("kustomization.yaml"):
        listed = set(yaml.safe_load(kustomization.read_text())["resources"])
        present = {p.name for p in kustomization.parent.glob("*.yaml") if p.name != "kustomization.yaml"}
        assert listed == present, kustomization


def containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, deployment in by_kind("Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            found.append((name, container))
    return found


def test_every_container_has_requests_and_a_memory_limit() -> None:
    for name, container in containers():
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert "memory" in resources["limits"], name


def test_web_probes_use_readyz_and_healthz_and_workers_have_liveness() -> None:
    [(_, web)] = [(n, c) for n, c in containers() if n == "openclaw-web"]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for name, container in containers():
        if name.startswith("openclaw-worker"):
            assert container["livenessProbe"]["httpGet"]["port"] == "metrics", name
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env["WORKER_METRICS_PORT"] == "9200", name


def test_autoscalers_and_budgets_point_at_real_deployments() -> None:
    deployments = by_kind("Deployment")
    hpas = by_kind("HorizontalPodAutoscaler")
    assert set(hpas) == {"openclaw-web", "openclaw-worker", "openclaw-worker-automation"}
    assert hpas["openclaw-web"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments, name
        if name != "openclaw-web":
            external = hpa["spec"]["metrics"][0]["external"]["metric"]
            assert external["name"] == "openclaw_queue_depth", name
            args = deployments[name]["spec"]["template"]["spec"]["containers"][0]["args"]
            assert external["selector"]["matchLabels"]["queue"] == args[args.index("--queues") + 1].split(",")[0]
    for name, pdb in by_kind("PodDisruptionBudget").items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployments[name]["spec"]["template"]["metadata"]["labels"].items(), name


def test_service_monitors_select_services_and_ports_that_exist() -> None:
    services = by_kind("Service")
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in by_kind("Deployment").values()]
    monitors = by_kind("ServiceMonitor")
    assert set(monitors) == {"openclaw-web", "openclaw-worker"}
    for name, monitor in monitors.items():
        wanted = monitor["spec"]["selector"]["matchLabels"].items()
        [service] = [s for s in services.values() if wanted <= s["metadata"]["labels"].items()]
        ports = {port["name"] for port in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports, name
        assert any(service["spec"]["selector"].items() <= labels.items() for labels in pods), name
        assert monitor["spec"]["endpoints"][0]["relabelings"][0]["replacement"].startswith("openclaw")


def test_the_prometheusrule_is_generated_from_rules_yml() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import prometheusrule
    finally:
        sys.path.pop(0)
    committed = KUBE / "monitoring" / "prometheusrule.yaml"
    assert committed.read_text() == prometheusrule.render()
    rule = yaml.safe_load(committed.read_text())
    source = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    assert rule["spec"]["groups"] == source["groups"]
