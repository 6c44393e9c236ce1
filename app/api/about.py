"""GET /about: the facts behind the EnvProvenance chip and `runboard status`: which server, mode, version and
commit, database, executor, and who the caller is."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.build_info import this_build
from app.services.execution import workers
from app.services.execution.deployment_checks import store_warning_of

router = APIRouter(tags=['about'])


class AboutYou(BaseModel):
    user_id: str
    name: str
    role: str  # builder | operator


class AboutPublic(BaseModel):
    product: str = 'Runboard'
    version: str
    commit: str | None
    mode: str  # local (SQLite, in-process) | team (PostgreSQL and/or Redis)
    database: str  # sqlite | postgresql
    redis: bool
    executor: str  # local | celery
    instance: str  # this server instance (team mode runs several)
    # how this server's runs execute: sandboxed | unsandboxed | refused (docs/security.md); executor=celery: the worst
    # of the live workers' (as each said at its start), the warnings naming the workers
    sandbox: str
    sandbox_warning: str | None = None  # why runs are unsandboxed or refused
    # what each run of this server's executor is bounded by (docs/security.md): e.g. 'memory 4.0 GiB, 4096
    # processes', or 'none' (with why not, where limits were asked for and this machine cannot enforce them)
    limits: str = 'none'
    limits_warning: str | None = None  # limits asked for and not enforced here, or runs refused for it
    # why the artifacts of runs on workers may be unreadable here (executor=celery, no RUNBOARD_ARTIFACT_STORE)
    artifact_store_warning: str | None = None
    started_at: datetime
    you: AboutYou


@router.get('/about', response_model=AboutPublic, responses=problems(401))
async def about(services: ServicesDep, principal: PrincipalDep) -> AboutPublic:
    settings = services.settings
    build = this_build()
    facts = services.runner.confinement.facts()  # what a worker says of itself at its start, too
    sandbox, sandbox_warning = facts['sandbox'], facts['sandbox_warning']
    limits, limits_warning = facts['limits'], facts['limits_warning']
    if settings.executor == 'celery':  # runs execute on the workers: what each said at its start, not this server
        limits, limits_warning = 'each worker its own (the Workers page)', None
        fleet = await run_in_threadpool(
            workers.live_confinement, services.engine, heartbeat_seconds=settings.heartbeat_seconds
        )
        if fleet is not None:
            sandbox, sandbox_warning, limits_warning = fleet.sandbox, fleet.sandbox_warning, fleet.limits_warning
    return AboutPublic(
        version=build.version,
        commit=build.commit,
        mode='team' if settings.is_team_mode else 'local',
        database=services.engine.dialect.name,
        redis=bool(settings.redis_url),
        executor=settings.executor,
        instance=services.instance_id,
        sandbox=sandbox,
        sandbox_warning=sandbox_warning,
        limits=limits,
        limits_warning=limits_warning,
        artifact_store_warning=store_warning_of(settings, on_worker=False),
        started_at=services.started_at,
        you=AboutYou(user_id=principal.user_id, name=principal.name, role=principal.role),
    )
