"""compose.yaml: the Compose specification's JSON schema, and the stack's promises.

No container engine runs here, and the `docker compose` v2 CLI is not installable offline (the
Debian/PyPI `docker-compose` is v1, which predates the current specification and rejects its
top-level `name` and environment-sourced secrets), so the file is checked by
check-jsonschema's vendored compose-spec schema, by the assertions below, and the monitoring
configs the containers derive at start (sed over the repository's files) are rebuilt here and
checked by promtool and amtool.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pathspec
import pytest
import yaml

from tests.helpers import REPO_ROOT, require_binary
from volcast.config import load_params
from volcast.series import Series

COMPOSE = REPO_ROOT / "compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
BIN = Path(sys.executable).parent
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|FERNET|ACCESS_KEY", re.IGNORECASE)
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Z0-9_]+)(?::?[-?+][^}]*)?\}")
LONG_RUNNING_CONDITIONS = {"service_healthy"}
ONE_SHOT_CONDITION = "service_completed_successfully"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_file_matches_the_compose_specification(tmp_path: Path) -> None:
    result = _check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    # the validator rejects what the specification does not allow (not a pass-everything run)
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE.read_text().replace("condition: service_healthy", "condition: when_ready", 1)
    )
    rejected = _check_jsonschema(broken)
    assert rejected.returncode != 0
    assert "when_ready" in rejected.stdout + rejected.stderr


def _one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def test_every_service_is_health_checked_or_a_one_shot_job(
    services: dict[str, dict[str, Any]],
) -> None:
    depended: dict[str, set[str]] = {}
    for svc in services.values():
        for name, dep in svc.get("depends_on", {}).items():
            depended.setdefault(name, set()).add(dep["condition"])
    for name, svc in services.items():
        if _one_shot(svc):
            assert "healthcheck" not in svc, name
            assert depended.get(name) == {ONE_SHOT_CONDITION}, (name, depended.get(name))
        else:
            test = svc.get("healthcheck", {}).get("test")
            assert test, f"{name} has no health check"
            assert test[0] in {"CMD", "CMD-SHELL"}, name
            assert depended.get(name, LONG_RUNNING_CONDITIONS) <= LONG_RUNNING_CONDITIONS, name


def test_every_dependency_waits_on_a_condition(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must be the long form"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec.get("condition") in {"service_healthy", ONE_SHOT_CONDITION}, (name, dep)
        if str(svc.get("network_mode", "")).startswith("service:"):
            peer = svc["network_mode"].split(":", 1)[1]
            assert deps.get(peer, {}).get("condition") == "service_healthy", name


def test_containers_run_as_non_root_with_limits(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        user = str(svc.get("user", ""))
        assert user, f"{name} has no user:"
        assert user.split(":")[0] not in {"0", "root"}, f"{name} runs as root"
        if svc.get("image", "").startswith("${VOLCAST"):  # our images: the Dockerfile's users
            assert user.split(":")[0] in {"10001", "50000"}, name
            assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"{name} has no resource limits"


def test_volumes_are_named_and_bind_mounts_are_read_only_repo_files(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set(compose["volumes"])
    used: set[str] = set()
    for name, svc in services.items():
        for mount in svc.get("volumes", []):
            source, _target, *mode = mount.split(":")
            if source.startswith("./"):
                assert mode == ["ro"], f"{name}: bind mount {mount} must be read-only"
                assert (REPO_ROOT / source).exists(), f"{name}: {source} is not in the repo"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == named, f"declared but unused volumes: {named - used}"
    for stateful in ("postgres", "minio", "redis", "prometheus", "grafana"):
        assert any(not m.startswith("./") for m in services[stateful]["volumes"]), (
            f"{stateful} keeps its state in no named volume"
        )


def test_no_secret_literal_and_every_variable_is_in_env_example(
    services: dict[str, dict[str, Any]],
) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    referenced = set(INTERPOLATION.findall(text))
    assert referenced, "compose.yaml reads nothing from .env"
    assert referenced <= example, f"missing from .env.example: {sorted(referenced - example)}"
    for name, svc in services.items():
        for key, value in (svc.get("environment") or {}).items():
            if SECRET_NAME.search(key) and value not in ("", None):
                assert INTERPOLATION.fullmatch(str(value)), f"{name}: {key} is a literal"
    # credentials inside URLs come from .env too
    for password in re.findall(r"://[^:/\s@]+:([^@\s]+)@", text):
        assert INTERPOLATION.fullmatch(password), f"a URL carries the literal {password!r}"
    # nor does any placeholder secret of .env.example appear outside comments
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    for key, value in re.findall(r"^([A-Z0-9_]+)=(.+)$", ENV_EXAMPLE.read_text(), re.MULTILINE):
        if SECRET_NAME.search(key):
            assert value not in code, f"compose.yaml carries {key}'s value"


def test_env_file_is_ignored_by_git_and_docker() -> None:
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert ENV_EXAMPLE.exists()


@pytest.mark.parametrize(
    "path",
    [".env", "data/curated/x.parquet", ".venv/bin/python", "mlruns/0/meta.yaml",
     "src/volcast/.env", "mlartifacts/1/a", "dags/volcast_train.py", "tests/helpers.py"],
)  # fmt: skip
def test_dockerignore_keeps_data_and_secrets_out(path: str) -> None:
    spec = pathspec.PathSpec.from_lines(
        "gitignore", (REPO_ROOT / ".dockerignore").read_text().splitlines()
    )
    assert spec.match_file(path), f"{path} would be sent to the image build"


@pytest.mark.parametrize(
    "path",
    ["src/volcast/cli/app.py", "src/volcast/serving/static/status.js", "pyproject.toml", "uv.lock"],
)
def test_dockerignore_sends_what_the_build_copies(path: str) -> None:
    spec = pathspec.PathSpec.from_lines(
        "gitignore", (REPO_ROOT / ".dockerignore").read_text().splitlines()
    )
    assert not spec.match_file(path)


def test_host_ports_are_unique(services: dict[str, dict[str, Any]]) -> None:
    published = [
        str(port).replace("${VOLCAST_API_PORT:-8000}", "8000").rsplit(":", 1)[0].split(":")[-1]
        for svc in services.values()
        for port in svc.get("ports", [])
    ]
    assert len(published) == len(set(published)), published
    assert "8000" in published  # the API's one public port


def _api_replicas(services: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(n for n in services if re.fullmatch(r"api-\d+", n))


def _streams(services: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(n for n in services if n.startswith("stream-"))


def test_one_stream_worker_per_configured_instrument(services: dict[str, dict[str, Any]]) -> None:
    expected = {}
    for inst in load_params(REPO_ROOT / "params.yaml").series_list():
        series = Series(inst.symbol, inst.interval)
        expected[f"stream-{series.slug}-{inst.interval}"] = inst
    assert _streams(services) == sorted(expected)
    for name, inst in expected.items():
        svc = services[name]
        assert svc["entrypoint"][-1] == "stream"
        args = dict(zip(svc["command"][::2], svc["command"][1::2], strict=True))
        assert args["--symbol"] == inst.symbol
        assert args["--interval"] == inst.interval
        assert args["--source"] == inst.source
        assert args["--metrics-port"] == "9101"


def test_api_replicas_sit_behind_the_proxy(services: dict[str, dict[str, Any]]) -> None:
    replicas = _api_replicas(services)
    assert len(replicas) >= 2
    proxy = (REPO_ROOT / "deploy" / "compose" / "api-proxy.conf").read_text()
    assert sorted(re.findall(r"server (api-\d+):8000", proxy)) == replicas
    assert set(services["api-proxy"]["depends_on"]) == set(replicas)
    for name in replicas:
        assert "ports" not in services[name], f"{name} must be reached through the proxy"


def _rendered(service: dict[str, Any], mount: str, repo_dir: Path, out: Path) -> str:
    """The service's start script with the container paths mapped onto the repository."""
    script = service["command"][0]
    sed = script[: script.index("exec ")]
    sed = sed.replace(mount, str(repo_dir)).rsplit(">", 1)[0] + f"> {shlex.quote(str(out))}"
    subprocess.run(["sh", "-ec", sed], check=True)
    return out.read_text()


def test_prometheus_runs_the_repository_config_with_the_stack_targets(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    promtool = require_binary("promtool")
    prometheus = services["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus/volcast:ro" in prometheus["volumes"]
    assert "/etc/prometheus/volcast/prometheus.yml" in prometheus["command"][0]
    out = tmp_path / "prometheus.yml"
    text = _rendered(prometheus, "/etc/prometheus/volcast", REPO_ROOT / "deploy/prometheus", out)
    config = yaml.safe_load(text)
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets["volcast-api"] == [f"{n}:8000" for n in _api_replicas(services)]
    assert targets["volcast-stream"] == [f"{n}:9101" for n in _streams(services)]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    assert "localhost:8000" not in text
    assert "localhost:9101" not in text
    checked = subprocess.run(
        [promtool, "check", "config", str(out)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"SUCCESS: [1-9]\d* rules found", checked.stdout), checked.stdout


def test_alertmanager_runs_the_repository_config_with_the_stack_receivers(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    amtool = require_binary("amtool")
    alertmanager = services["alertmanager"]
    assert "./deploy/alertmanager:/etc/alertmanager/volcast:ro" in alertmanager["volumes"]
    out = tmp_path / "alertmanager.yml"
    text = _rendered(
        alertmanager, "/etc/alertmanager/volcast", REPO_ROOT / "deploy/alertmanager", out
    )
    assert "localhost:8000" not in text
    assert "localhost:9095" not in text
    assert "http://api-proxy:8080/alerts/webhook" in text
    files = set(re.findall(r"_file: /run/secrets/([a-z-]+)", text))
    mounted = {s["target"] for s in alertmanager["secrets"]}
    assert files
    assert files <= mounted
    checked = subprocess.run(
        [amtool, "check-config", str(out)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_loads_the_repository_provisioning_next_to_prometheus(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    provider = yaml.safe_load(
        (REPO_ROOT / "deploy/grafana/provisioning/dashboards/volcast.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in grafana["volumes"]
    datasource = (REPO_ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    if "localhost:9090" in datasource:  # then Grafana must share Prometheus's network
        assert grafana["network_mode"] == "service:prometheus"
        assert "3000:3000" in services["prometheus"]["ports"]
