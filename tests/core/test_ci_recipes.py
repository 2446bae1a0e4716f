"""The CI recipes of docs/ci.md parse, and the pre-commit hook validates policies with the real tool."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall((ROOT / "docs" / "ci.md").read_text()) if lang == language]


def test_gitlab_recipe_is_a_job_with_junit_report():
    (gitlab,) = [yaml.safe_load(b) for b in blocks("yaml") if "artifacts:" in b]
    job = gitlab["compliance"]
    assert any("civiscan scan" in line for line in job["script"])
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"


def test_github_recipe_is_a_workflow_that_scans_and_uploads():
    (workflow,) = [yaml.safe_load(b) for b in blocks("yaml") if "runs-on:" in b]
    steps = workflow["jobs"]["scan"]["steps"]
    assert any("civiscan scan" in step.get("run", "") for step in steps)
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)


def test_precommit_config_example_names_a_shipped_hook():
    (config,) = [yaml.safe_load(b) for b in blocks("yaml") if b.lstrip().startswith("# .pre-commit")]
    shipped = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for repo in config["repos"] for h in repo["hooks"]} <= shipped


def test_jenkinsfile_braces_balance_and_stages_are_there():
    (jenkins,) = blocks("groovy")
    depth = 0
    for char in re.sub(r"'[^']*'|\"[^\"]*\"", "", jenkins):
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert re.findall(r"stage\('(\w+)'\)", jenkins) == ["Install", "Validate", "Scan"]
    assert jenkins.lstrip().startswith("pipeline {")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def repo_using(hooks: Path, hook: str) -> Path:
    """Commit the hook repository ``hooks``; beside it, a policy repository using its ``hook``."""
    git(hooks, "init", "-q")
    git(hooks, "add", "-A")
    git(hooks, "commit", "-qm", "hooks")
    rev = git(hooks, "rev-parse", "HEAD").strip()
    repo = hooks.parent / "policies"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: {hook}\n"
    )
    shutil.copy(ROOT / "policies" / "baseline.yaml", repo / "good.yaml")
    return repo


@pytest.fixture
def policy_repo(tmp_path):
    """A policy repository whose .pre-commit-config.yaml uses the shipped hooks from a local repository."""
    if shutil.which("git") is None:
        pytest.fail("git is needed for the pre-commit test")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks)
    repo = repo_using(hooks, "civiscan-validate-system")
    (repo / ".gitlab-ci.yml").write_text("not: [a policy\n")  # a dot-file: never given to the hook
    return repo


def run_hooks(repo: Path) -> subprocess.CompletedProcess[str]:
    git(repo, "add", "-A")
    # language: system finds civiscan on PATH: the one installed beside this interpreter.
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)


def test_precommit_hook_passes_a_valid_policy(policy_repo):
    done = run_hooks(policy_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "civiscan validate" in done.stdout


def test_precommit_hook_fails_a_broken_policy_with_its_position(policy_repo):
    (policy_repo / "bad.yaml").write_text('policy:\n  id: x\n  version: "1"\n  title: x\nrules:\n  - id: a\n    bogus: 1\n')
    done = run_hooks(policy_repo)
    assert done.returncode == 1
    assert "bad.yaml:7:5: unknown key 'bogus' in a rule" in done.stdout


@pytest.fixture
def python_hook_repo(tmp_path):
    """A policy repository whose hook is ``civiscan-validate`` from a git repository of this source tree.

    pre-commit clones that repository and builds the hook's own environment with pip
    (``language: python``): the civiscan it runs is the one this tree builds, not the
    one installed here.
    """
    if shutil.which("git") is None:
        pytest.fail("git is needed for the pre-commit test")
    source = tmp_path / "civiscan"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():  # the working tree as it is, uncommitted edits included
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    repo = repo_using(source, "civiscan-validate")
    (repo / "bad.yaml").write_text('policy:\n  id: x\n  version: "1"\n  title: x\nrules:\n  - id: a\n    bogus: 1\n')
    return repo


def test_python_hook_builds_civiscan_and_reports_a_broken_policy(python_hook_repo):
    git(python_hook_repo, "add", "-A")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PRE_COMMIT_HOME"] = str(python_hook_repo.parent / "cache")
    # No civiscan on PATH: only the hook's own environment can provide it.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "civiscan").exists())
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=python_hook_repo,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad.yaml:7:5: unknown key 'bogus' in a rule" in done.stdout
    assert "good.yaml: ok" in done.stdout  # the shipped baseline passes

