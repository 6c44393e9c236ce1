"""GET /about: the facts behind the EnvProvenance chip and `runboard status`: which server, mode, version and
commit, database, executor, and who the caller is."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.build_info import this_build
from app.services.execution.deployment_checks import store_warning_of
from app.services.execution.sandbox import sandbox_state

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
    sandbox: str  # how this server's runs execute: sandboxed | unsandboxed | refused (docs/security.md)
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
    verdict = services.runner.confinement.verdict
    bounds = services.runner.confinement.limits
    return AboutPublic(
        version=build.version,
        commit=build.commit,
        mode='team' if settings.is_team_mode else 'local',
        database=services.engine.dialect.name,
        redis=bool(settings.redis_url),
        executor=settings.executor,
        instance=services.instance_id,
        sandbox=sandbox_state(verdict),
        sandbox_warning=verdict.warning or verdict.refusal,
        # executor=celery: runs execute on the workers, each bounded by its own settings (the Workers page)
        limits=bounds.describe() if settings.executor == 'local' else 'each worker its own (the Workers page)',
        limits_warning=(bounds.warning or bounds.refusal) if settings.executor == 'local' else None,
        artifact_store_warning=store_warning_of(settings, on_worker=False),
        started_at=services.started_at,
        you=AboutYou(user_id=principal.user_id, name=principal.name, role=principal.role),
    )
