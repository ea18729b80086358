"""``cicd.pipeline.*`` attributes from the environment variables of common CI systems.

GitHub Actions, GitLab CI, Jenkins, Buildkite and CircleCI are recognised; elsewhere there
are no CI attributes. The task (job) name also labels the Pushgateway group of the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .. import _names as n


def _github(env: Mapping[str, str]) -> dict[str, str]:
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    repo, run = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
    attempt = env.get("GITHUB_RUN_ATTEMPT", "")
    return {
        n.CICD_PIPELINE_NAME: env.get("GITHUB_WORKFLOW", ""),
        n.CICD_PIPELINE_RUN_ID: run,
        n.CICD_PIPELINE_RUN_URL: f"{server}/{repo}/actions/runs/{run}" if repo and run else "",
        n.CICD_TASK_NAME: env.get("GITHUB_JOB", ""),
        n.CICD_TASK_RUN_ID: f"{run}-{env.get('GITHUB_JOB', '')}-{attempt}" if run else "",
    }


def _gitlab(env: Mapping[str, str]) -> dict[str, str]:
    return {
        n.CICD_PIPELINE_NAME: env.get("CI_PIPELINE_NAME") or env.get("CI_PROJECT_PATH", ""),
        n.CICD_PIPELINE_RUN_ID: env.get("CI_PIPELINE_ID", ""),
        n.CICD_PIPELINE_RUN_URL: env.get("CI_PIPELINE_URL", ""),
        n.CICD_TASK_NAME: env.get("CI_JOB_NAME", ""),
        n.CICD_TASK_RUN_ID: env.get("CI_JOB_ID", ""),
        n.CICD_TASK_RUN_URL: env.get("CI_JOB_URL", ""),
    }


def _jenkins(env: Mapping[str, str]) -> dict[str, str]:
    return {
        n.CICD_PIPELINE_NAME: env.get("JOB_NAME", ""),
        n.CICD_PIPELINE_RUN_ID: env.get("BUILD_ID") or env.get("BUILD_NUMBER", ""),
        n.CICD_PIPELINE_RUN_URL: env.get("BUILD_URL", ""),
        n.CICD_TASK_NAME: env.get("STAGE_NAME", ""),
    }


def _buildkite(env: Mapping[str, str]) -> dict[str, str]:
    return {
        n.CICD_PIPELINE_NAME: env.get("BUILDKITE_PIPELINE_SLUG", ""),
        n.CICD_PIPELINE_RUN_ID: env.get("BUILDKITE_BUILD_ID", ""),
        n.CICD_PIPELINE_RUN_URL: env.get("BUILDKITE_BUILD_URL", ""),
        n.CICD_TASK_NAME: env.get("BUILDKITE_LABEL") or env.get("BUILDKITE_STEP_KEY", ""),
        n.CICD_TASK_RUN_ID: env.get("BUILDKITE_JOB_ID", ""),
    }


def _circleci(env: Mapping[str, str]) -> dict[str, str]:
    return {
        n.CICD_PIPELINE_NAME: env.get("CIRCLE_PROJECT_REPONAME", ""),
        n.CICD_PIPELINE_RUN_ID: env.get("CIRCLE_WORKFLOW_ID", ""),
        n.CICD_TASK_NAME: env.get("CIRCLE_JOB", ""),
        n.CICD_TASK_RUN_ID: env.get("CIRCLE_BUILD_NUM", ""),
        n.CICD_TASK_RUN_URL: env.get("CIRCLE_BUILD_URL", ""),
    }


_SYSTEMS = (
    ("GITHUB_ACTIONS", "github_actions", _github),
    ("GITLAB_CI", "gitlab_ci", _gitlab),
    ("BUILDKITE", "buildkite", _buildkite),
    ("CIRCLECI", "circleci", _circleci),
    ("JENKINS_URL", "jenkins", _jenkins),
)


def detect(env: Mapping[str, str] | None = None) -> tuple[str | None, dict[str, str]]:
    """(CI system, ``cicd.pipeline.*`` attributes) for this environment; (None, {}) outside CI."""
    env = os.environ if env is None else env
    for variable, system, read in _SYSTEMS:
        if env.get(variable, "").strip().lower() not in ("", "false", "0"):
            attributes = {k: v for k, v in read(env).items() if v}
            attributes[n.CICD_TASK_TYPE] = "test"
            return system, attributes
    return None, {}
