"""What a run's process receives in its environment (the run contract, docs/pipelines.md): a documented base,
the run's RUNBOARD_* facts, and the project's variables and secrets. Nothing of the server's or the worker's
own environment reaches a run, sandboxed or not."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'


def base_environment(*, home: str) -> dict[str, str]:
    return {
        'PATH': BASE_PATH,
        'HOME': home,
        'USER': 'runner',
        'LOGNAME': 'runner',
        'SHELL': '/bin/sh',
        'LANG': 'C.UTF-8',
        'TERM': 'dumb',
        'TMPDIR': '/tmp',
        'CI': 'true',
        'RUNBOARD': 'true',
        'PYTHONUNBUFFERED': '1',
    }


def run_facts(run: Mapping[str, Any], *, workdir: str) -> dict[str, str]:
    facts = {
        'RUNBOARD_RUN_ID': run['id'],
        'RUNBOARD_PROJECT_ID': run['project_id'],
        'RUNBOARD_BRANCH': run['branch_name'],
        'RUNBOARD_DEPTH_LEVEL': run['depth_level'],
        'RUNBOARD_TARGET_FRAMEWORK': run['target_framework'],
        'RUNBOARD_RUN_KIND': str(run.get('kind') or 'manual'),
        'RUNBOARD_WORKSPACE': workdir,
    }
    if run.get('artifacts_dir'):  # the files the command leaves there are kept with the run (docs/artifacts.md)
        facts['RUNBOARD_ARTIFACTS_DIR'] = run['artifacts_dir']
        # Markdown the run appends to, shown above its log (GitHub Actions' $GITHUB_STEP_SUMMARY)
        facts['RUNBOARD_SUMMARY'] = posixpath.join(run['artifacts_dir'], 'summary.md')
    if run.get('cache_dir'):  # kept between the project's runs on this machine (docs/pipelines.md, "Caches")
        facts['RUNBOARD_CACHE_DIR'] = run['cache_dir']
    if run.get('commit_sha'):
        facts['RUNBOARD_COMMIT'] = run['commit_sha']
    if run.get('issue_number') is not None:
        facts['RUNBOARD_ISSUE_NUMBER'] = str(run['issue_number'])
        facts['RUNBOARD_ISSUE_TITLE'] = run.get('issue_title') or ''
        facts['RUNBOARD_ISSUE_BODY'] = run.get('issue_body') or ''
    return facts


def run_environment(
    run: Mapping[str, Any], *, home: str, workdir: str, variables: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Base, then the project's variables and secrets (which may replace a base name such as PATH), then the
    run's facts, which nothing replaces."""
    return {**base_environment(home=home), **(variables or {}), **run_facts(run, workdir=workdir)}
