"""deploy/k8s/: the Kubernetes schemas (kubernetes-validate, strict) and the manifests' promises:
probes on routes the API really serves, resources, non-root pods, secrets by reference only,
the HPA and PDB on the API, and one stream worker per configured series."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT
from volcast.config import load_params
from volcast.series import Series

K8S = REPO_ROOT / "deploy" / "k8s"
BIN = Path(sys.executable).parent


def _manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return [d for p in _manifests() for d in yaml.safe_load_all(p.read_text()) if d]


def _kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_manifests_match_the_kubernetes_schemas(tmp_path: Path) -> None:
    result = _validate(*_manifests())
    assert result.returncode == 0, result.stdout + result.stderr
    # strict validation rejects what the schema does not know (not a pass-everything run)
    broken = tmp_path / "api.yaml"
    broken.write_text((K8S / "api.yaml").read_text().replace("readinessProbe:", "readyProbe:"))
    rejected = _validate(broken)
    assert rejected.returncode != 0
    assert "readyProbe" in rejected.stdout + rejected.stderr


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in _manifests())
    images = {i["name"] for i in kustomization["images"]}
    for path in _manifests():
        for doc in yaml.safe_load_all(path.read_text()):
            for container in _containers(doc):
                assert container["image"] in images, f"{path.name}: {container['image']}"


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc.get("kind") != "Deployment":
        return []
    return list(doc["spec"]["template"]["spec"]["containers"])


def _api_paths() -> set[str]:
    from volcast.serving.app import create_app

    return set(create_app(poll=False).openapi()["paths"])


def test_api_probes_use_the_real_routes(docs: list[dict[str, Any]]) -> None:
    api = _kind(docs, "Deployment")["volcast-api"]
    (container,) = _containers(api)
    paths = _api_paths()
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in paths, f"{probe} polls {get['path']}, which the API does not serve"
        assert get["port"] in {p["name"] for p in container["ports"]}
    assert "8000" in container["args"]
    assert container["ports"][0]["containerPort"] == 8000
    strategy = api["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0  # zero-downtime rollouts


def test_service_hpa_and_pdb_target_the_api(docs: list[dict[str, Any]]) -> None:
    api = _kind(docs, "Deployment")["volcast-api"]
    labels = api["spec"]["template"]["metadata"]["labels"]
    assert api["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _kind(docs, "Service")["volcast-api"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = _kind(docs, "HorizontalPodAutoscaler")["volcast-api"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "volcast-api",
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = _kind(docs, "PodDisruptionBudget")["volcast-api"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]  # drains can proceed


def test_pods_run_non_root_with_resources(docs: list[dict[str, Any]]) -> None:
    deployments = _kind(docs, "Deployment")
    assert {"volcast-api", "mlflow"} <= set(deployments)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] not in (0, None), name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert {"cpu", "memory"} <= set(resources["limits"]), name
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "livenessProbe" in container, name


def test_secrets_are_only_referenced(docs: list[dict[str, Any]]) -> None:
    assert not _kind(docs, "Secret"), "a Secret with values is committed"
    refs = set()
    for deployment in _kind(docs, "Deployment").values():
        for container in _containers(deployment):
            for env in container.get("env", []):
                if "value" in env:
                    assert not any(w in env["name"] for w in ("PASSWORD", "TOKEN", "SECRET"))
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add(ref["key"])
                    assert ref["name"] == "volcast-secrets"
    example = {
        line.split("=", 1)[0]
        for line in (REPO_ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    # every key is in .env.example (the Secret is created from .env), except the MLflow
    # store URI, which the docs have the operator add (it combines host and password)
    assert refs - example == {"MLFLOW_BACKEND_STORE_URI"}


def test_one_stream_worker_per_configured_instrument(docs: list[dict[str, Any]]) -> None:
    workers = {
        name: d
        for name, d in _kind(docs, "Deployment").items()
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "stream"
    }
    expected = {}
    for inst in load_params(REPO_ROOT / "params.yaml").series_list():
        series = Series(inst.symbol, inst.interval)
        expected[f"stream-{series.slug}-{inst.interval}"] = inst
    assert sorted(workers) == sorted(expected)
    for name, inst in expected.items():
        worker = workers[name]
        assert worker["spec"]["replicas"] == 1
        assert worker["spec"]["strategy"]["type"] == "Recreate"  # never two at once
        (container,) = _containers(worker)
        assert container["command"][-1] == "stream"
        args = dict(zip(container["args"][::2], container["args"][1::2], strict=True))
        assert (args["--symbol"], args["--interval"], args["--source"]) == (
            inst.symbol,
            inst.interval,
            inst.source,
        )
        port = int(args["--metrics-port"])
        assert container["ports"][0]["containerPort"] == port
        annotations = worker["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(port)
