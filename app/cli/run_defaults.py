"""What a command that makes runs takes for what it is not told: the project's base branch, its first depth level
and its first target framework, as the Run form preselects them (`runs trigger`, a matrix's axes, `schedules add`)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from app.client import RunboardClient

# the options of a command that makes runs, each defaulted as the Run form preselects it
BranchOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option(
        '--branch',
        '-b',
        metavar='BRANCH',
        help="Branch to run (default: the project's base branch, as the Run form preselects it).",
    ),
]
DepthOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option(
        '--depth', '-d', metavar='DEPTH', help="Depth level, one the project allows (default: the project's first)."
    ),
]
FrameworkOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option(
        '--framework',
        '-f',
        metavar='FRAMEWORK',
        help="Target framework, one the project allows (default: the project's first).",
    ),
]


def project_defaults(project: dict[str, Any]) -> dict[str, str]:
    """Pure: the project's choice for each field of a run: branch, depth_level, target_framework."""
    return {
        'branch': project['base_branch'],
        'depth_level': project['depth_levels'][0],
        'target_framework': project['target_frameworks'][0],
    }


async def defaults_for(client: RunboardClient, project_id: str, *given: object) -> dict[str, str]:
    """The project's defaults when any of `given` is left out (None); {} when all are given, so a command that
    names everything sends no extra request. An unknown project is the API's 404 (exit 4)."""
    if all(value is not None for value in given):
        return {}
    return project_defaults(await client.get_project(project_id))
