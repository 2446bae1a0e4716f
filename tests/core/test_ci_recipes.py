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


@pytest.fixture
def policy_repo(tmp_path):
    """A policy repository whose .pre-commit-config.yaml uses the shipped hooks from a local repository."""
    if shutil.which("git") is None:
        pytest.fail("git is needed for the pre-commit test")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks)
    git(hooks, "init", "-q")
    git(hooks, "add", "-A")
    git(hooks, "commit", "-qm", "hooks")
    rev = git(hooks, "rev-parse", "HEAD").strip()
    repo = tmp_path / "policies"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: civiscan-validate-system\n"
    )
    shutil.copy(ROOT / "policies" / "baseline.yaml", repo / "good.yaml")
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
