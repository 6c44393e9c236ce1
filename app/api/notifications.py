"""Notification rules of a project (signed webhooks), their delivery log, Redeliver and Test.
The receiver's side (headers, signature, retries): docs/notifications.md."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.container import Services
from app.models import (
    BulkRedeliver,
    BulkRedelivery,
    DeliveryDetail,
    DeliveryPage,
    RuleCreate,
    RuleCreated,
    RulePublic,
    RuleUpdate,
)
from app.services.identity.accounts import Principal
from app.services.notifications import deliveries
from app.services.notifications import webhooks as notifications
from app.services.notifications.sender import DELIVERIES_QUEUED_EVENT
from app.services.notifications.webhook_targets import policy_of

router = APIRouter(tags=['notifications'])
RULES = '/projects/{project_id}/notifications'


async def _rules_changed(services: Services, project_id: str) -> None:
    """Every tab showing the project's Notifications page, on every server, reads its webhooks again."""
    team_id = await run_in_threadpool(notifications.team_of, services.engine, project_id)
    services.bus.publish({'type': 'project', 'id': project_id, 'project_id': project_id, 'team_id': team_id})


@router.get(RULES, response_model=list[RulePublic], responses=problems(401, 404))
async def list_rules(project_id: str, services: ServicesDep, principal: PrincipalDep) -> list[RulePublic]:
    """The project's rules, never their secrets (builders see only each URL's origin)."""
    return await run_in_threadpool(notifications.list_rules, services.engine, principal, project_id)


@router.post(RULES, status_code=201, response_model=RuleCreated, responses=problems(401, 403, 404, 409, 422))
async def create_rule(project_id: str, body: RuleCreate, services: ServicesDep, principal: PrincipalDep) -> RuleCreated:
    """Operators. The answer carries the signing `secret`: shown this once, keep it in the receiver. A URL whose
    host RUNBOARD_WEBHOOK_ALLOWED_HOSTS refuses (team mode: loopback, private, link-local... addresses) is 422
    webhook_target_refused."""
    secrets = services.repositories.secrets
    policy = policy_of(services.settings)
    created = await run_in_threadpool(
        notifications.create_rule, services.engine, secrets, principal, project_id, body, policy=policy
    )
    await _rules_changed(services, project_id)
    return created


@router.get(RULES + '/{rule_id}', response_model=RulePublic, responses=problems(401, 404))
async def get_rule(project_id: str, rule_id: str, services: ServicesDep, principal: PrincipalDep) -> RulePublic:
    return await run_in_threadpool(notifications.get_rule, services.engine, principal, project_id, rule_id)


@router.patch(RULES + '/{rule_id}', response_model=RulePublic, responses=problems(401, 403, 404, 409, 422))
async def update_rule(
    project_id: str, rule_id: str, body: RuleUpdate, services: ServicesDep, principal: PrincipalDep
) -> RulePublic:
    """Operators: change the name, URL, format, events, or switch the rule on and off (deliveries of a switched-off
    rule wait, and go out when it is switched on again). Send only what changes: the others stay as they are. Send
    `version`, the rule's `version` as you read it, and the edit is refused with 409 `edit_conflict` (its
    `current_version` the rule's now; nothing saved) when someone else changed the rule since, instead of the last
    save winning silently; without it the edit applies to the rule as it is now. Each change moves `version` on by
    one (a change to nothing does not). The signing secret is not changed here (`POST .../secret`)."""
    policy = policy_of(services.settings)
    updated = await run_in_threadpool(
        notifications.update_rule, services.engine, principal, project_id, rule_id, body, policy=policy
    )
    await _rules_changed(services, project_id)
    return updated


@router.delete(RULES + '/{rule_id}', status_code=204, responses=problems(401, 403, 404))
async def delete_rule(project_id: str, rule_id: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Operators: the rule and its delivery log."""
    await run_in_threadpool(notifications.delete_rule, services.engine, principal, project_id, rule_id)
    await _rules_changed(services, project_id)
    return Response(status_code=204)


@router.post(RULES + '/{rule_id}/secret', response_model=RuleCreated, responses=problems(401, 403, 404))
async def new_secret(project_id: str, rule_id: str, services: ServicesDep, principal: PrincipalDep) -> RuleCreated:
    """Operators: a new signing secret (shown this once); every attempt from now on is signed with it."""
    secrets = services.repositories.secrets
    return await run_in_threadpool(
        notifications.new_rule_secret, services.engine, secrets, principal, project_id, rule_id
    )


async def _attempt_now(
    services: Services, principal: Principal, delivery_id: str, attempts_before: int = 0
) -> DeliveryDetail:
    """Attempt the delivery now (within RUNBOARD_NOTIFICATION_TIMEOUT_SECONDS) and answer it with that attempt."""
    attempted = await services.sender().send_now(delivery_id)
    detail = await _read_delivery(services, principal, delivery_id)
    # the notification loop (here or on another server) claimed it first: answer with its attempt, not before it
    deadline = asyncio.get_running_loop().time() + services.settings.notification_timeout_seconds + 2
    while not attempted and detail.attempts <= attempts_before and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        detail = await _read_delivery(services, principal, delivery_id)
    return detail


async def _read_delivery(services: Services, principal: Principal, delivery_id: str) -> DeliveryDetail:
    return await run_in_threadpool(
        deliveries.get_delivery,
        services.engine,
        principal,
        delivery_id,
        base_url=services.settings.effective_public_url,
    )


@router.post(
    RULES + '/{rule_id}/test', status_code=201, response_model=DeliveryDetail, responses=problems(401, 403, 404)
)
async def test_rule(project_id: str, rule_id: str, services: ServicesDep, principal: PrincipalDep) -> DeliveryDetail:
    """Operators: send a `ping` event to the rule's URL now; the answer is the delivery with that first attempt
    (retried like any other delivery when it failed)."""
    delivery_id = await run_in_threadpool(deliveries.create_ping, services.engine, principal, project_id, rule_id)
    return await _attempt_now(services, principal, delivery_id)


@router.get('/projects/{project_id}/deliveries', response_model=DeliveryPage, responses=problems(401, 404, 422))
async def list_deliveries(
    project_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    rule: Annotated[str | None, Query(max_length=64, description='only this rule')] = None,
    status: Annotated[
        str | None,
        Query(max_length=100, description='pending, delivered, failed, gave_up, held, skipped (comma-separated)'),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="the page's next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """The project's deliveries, newest first, each with its attempts (oldest first)."""
    return await run_in_threadpool(
        deliveries.list_deliveries,
        services.engine,
        principal,
        project_id,
        rule=rule,
        status=status,
        cursor=cursor,
        limit=limit,
    )


@router.get('/deliveries/{delivery_id}', response_model=DeliveryDetail, responses=problems(401, 404))
async def get_delivery(delivery_id: str, services: ServicesDep, principal: PrincipalDep) -> DeliveryDetail:
    """One delivery with its attempts and its body, as sent."""
    return await _read_delivery(services, principal, delivery_id)


@router.post(
    '/deliveries/{delivery_id}/redeliver', response_model=DeliveryDetail, responses=problems(401, 403, 404, 409)
)
async def redeliver(delivery_id: str, services: ServicesDep, principal: PrincipalDep) -> DeliveryDetail:
    """Operators: send the delivery again now (the same id and body, freshly signed) in a new round of attempts;
    the answer carries that attempt. 409 delivery_in_flight while a server is sending it."""
    attempts_before = await run_in_threadpool(deliveries.redeliver, services.engine, principal, delivery_id)
    return await _attempt_now(services, principal, delivery_id, attempts_before)


@router.post(
    RULES + '/{rule_id}/redeliver-gave-up', response_model=BulkRedelivery, responses=problems(401, 403, 404, 422)
)
async def redeliver_gave_up(
    project_id: str,
    rule_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    body: BulkRedeliver | None = None,
) -> BulkRedelivery:
    """Operators: queue again every delivery of the rule that gave up since `since` (12h, 90m, 2d or an ISO 8601
    time; default the last 24 hours), each in a new round of attempts, as Redeliver does; the sender loop sends them
    (each rule at most 4 at once). The answer says how many were `queued` and which were skipped and why
    (`skipped_by_reason`: `in_flight` being sent now, `redelivery_pending` already queued again and waiting or
    retrying, `delivered_since`, `changed`). A second call while the first one's are pending queues none of them
    again. `dry_run: true` counts without changing anything."""
    asked = body or BulkRedeliver()
    answer = await run_in_threadpool(
        deliveries.redeliver_gave_up,
        services.engine,
        principal,
        project_id,
        rule_id,
        since=asked.since,
        dry_run=asked.dry_run,
    )
    if answer.queued and not answer.dry_run:  # the sender of every server looks now, not at its next poll
        services.bus.publish({'type': DELIVERIES_QUEUED_EVENT, 'project_id': project_id})
    return answer
