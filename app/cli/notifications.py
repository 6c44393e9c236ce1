"""`runboard notifications list|add|edit|enable|disable|rotate-secret|remove|deliveries|redeliver|redeliver-gave-up|
test`: a project's signed webhooks (docs/notifications.md). Operators change them; everyone who sees the project lists
them and their deliveries (`deliveries PROJECT`, `deliveries show DELIVERY_ID`); operators also read what the receiver
answered, and send again all of a rule's deliveries that gave up."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Optional

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from app.cli import render
from app.cli.context import Cli, JsonOpt, ServerOpt, given_id, if_version_option, with_version
from app.cli.help_types import DefaultCommand
from app.cli.policy import Exit
from app.cli.when import since_value
from app.client import RunboardClient
from app.models.vocabulary import EVENT_TYPES
from app.state.notifications_view import (
    EVENT_LABELS,
    STATUS_LABELS,
    answer_heading,
    attempt_text,
    bulk_result,
    delivery_state,
    events_text,
)

notifications_app = typer.Typer(
    help='Signed webhooks of a project: rules, their deliveries, Redeliver, Test.', no_args_is_help=True
)
ProjectArg = Annotated[str, typer.Argument(metavar='PROJECT', help='The project id.', callback=given_id)]
RuleArg = Annotated[
    str, typer.Argument(metavar='RULE_ID', help='From `runboard notifications list`.', callback=given_id)
]
DeliveryArg = Annotated[
    str, typer.Argument(metavar='DELIVERY_ID', help='From `runboard notifications deliveries`.', callback=given_id)
]
deliveries_app = typer.Typer(
    cls=DefaultCommand,
    help="The delivery log: `deliveries PROJECT` lists a project's deliveries, `deliveries show DELIVERY_ID` one.",
    no_args_is_help=True,
)
notifications_app.add_typer(deliveries_app, name='deliveries')


def _rules_table(rules: list[dict]) -> Table | str:
    if not rules:
        return 'No notification rules. Add one with `runboard notifications add PROJECT URL`.'
    table = Table('Rule id', 'Name', 'Events', 'Format', 'On', 'URL')
    for rule in rules:
        table.add_row(
            rule['id'],
            render.escape(rule['name']),
            events_text(rule['events']),
            rule['format'],
            'yes' if rule['enabled'] else 'no',
            render.escape(rule['url']),
        )
    return table


@notifications_app.command('list')
def notifications_list(project: ProjectArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """The project's rules (never their secrets; builders see only each URL's origin)."""
    Cli.make(server, json_output).show(lambda client: client.notification_rules(project), _rules_table)


@notifications_app.command('add')
def notifications_add(
    project: ProjectArg,
    url: Annotated[str, typer.Argument(metavar='URL', help='Where to POST: an http:// or https:// URL.')],
    event: Annotated[
        Optional[list[str]],
        typer.Option(
            '--event',
            '-e',
            metavar='EVENT',
            help=f'An event (repeat for several): {", ".join(EVENT_TYPES)} (default: failures).',
        ),
    ] = None,
    fmt: Annotated[str, typer.Option('--format', '-f', help='runboard (JSON) or slack ({"text": ...}).')] = 'runboard',
    name: Annotated[Optional[str], typer.Option('--name', help="A name for people (default: the URL's host).")] = None,
    disabled: Annotated[bool, typer.Option('--disabled', help='Create it switched off.')] = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Add a rule (operators). Prints its signing secret ONCE: store it where the receiver checks signatures."""
    body: dict[str, Any] = {'url': url, 'format': fmt, 'enabled': not disabled}
    if event:
        body['events'] = event
    if name:
        body['name'] = name

    def shown(rule: dict) -> str:
        return (
            f'Added {rule["id"]} ({render.escape(rule["name"])}): {events_text(rule["events"])} -> '
            f'{render.escape(rule["url"])}\n'
            f'Signing secret (shown only now): [bold]{rule["secret"]}[/]\n'
            'Receivers verify X-Runboard-Signature with it (docs/notifications.md).'
        )

    Cli.make(server, json_output).show(lambda client: client.add_notification_rule(project, body), shown)


def rule_changes(url: str | None, events: list[str] | None, fmt: str | None, name: str | None) -> dict[str, Any]:
    """Pure: the body of an edit, only what was given (the server keeps the rest as it is, also when another
    operator changed it meanwhile)."""
    given = {'url': url, 'events': events or None, 'format': fmt, 'name': name}
    return {key: value for key, value in given.items() if value is not None}


@notifications_app.command('edit')
def notifications_edit(
    project: ProjectArg,
    rule: RuleArg,
    url: Annotated[
        Optional[str], typer.Option('--url', metavar='URL', help='Where to POST now: an http:// or https:// URL.')
    ] = None,
    event: Annotated[
        Optional[list[str]],
        typer.Option(
            '--event',
            '-e',
            metavar='EVENT',
            help=f'The events, replacing the ones it has (repeat for several): {", ".join(EVENT_TYPES)}.',
        ),
    ] = None,
    fmt: Annotated[
        Optional[str], typer.Option('--format', '-f', metavar='FORMAT', help='runboard (JSON) or slack.')
    ] = None,
    name: Annotated[Optional[str], typer.Option('--name', help='A new name for people.')] = None,
    if_version: Annotated[Optional[int], if_version_option('version', 'notifications list PROJECT --json')] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Change a rule (operators); what you leave out stays, and only what you give is sent. The signing secret stays
    (rotate-secret), and so does on/off (enable, disable). With --if-version, the change is refused (exit 3) when
    another operator changed the rule since that version, instead of the last save winning. Exit 4 when there is no
    such rule, 2 for a value the server refuses."""
    body = rule_changes(url, event, fmt, name)
    if not body:
        raise typer.BadParameter('say what to change: --url, --event, --format or --name', param_hint='--url')
    body = with_version(body, if_version, 'version')

    def shown(rule: dict) -> str:
        return (
            f'Changed {rule["id"]} ({render.escape(rule["name"])}): {events_text(rule["events"])}, '
            f'{rule["format"]} -> {render.escape(rule["url"])} (version {rule["version"]})'
        )

    Cli.make(server, json_output).show(lambda client: client.update_notification_rule(project, rule, body), shown)


def _switch(project: str, rule: str, on: bool, json_output: bool, server: str | None) -> None:
    Cli.make(server, json_output).show(
        lambda client: client.update_notification_rule(project, rule, {'enabled': on}),
        lambda r: f'{r["id"]} is {"on" if r["enabled"] else "off"}.',
    )


@notifications_app.command('enable')
def notifications_enable(
    project: ProjectArg, rule: RuleArg, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Switch a rule on: deliveries that waited while it was off go out now (operators)."""
    _switch(project, rule, True, json_output, server)


@notifications_app.command('disable')
def notifications_disable(
    project: ProjectArg, rule: RuleArg, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Switch a rule off: no new deliveries; pending ones wait until it is on again (operators)."""
    _switch(project, rule, False, json_output, server)


@notifications_app.command('rotate-secret')
def notifications_rotate_secret(
    project: ProjectArg, rule: RuleArg, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Replace a rule's signing secret (operators). Prints the new one ONCE; every attempt from now on is signed
    with it, so give it to the receiver now (deliveries it refuses meanwhile are retried)."""

    def shown(rule: dict) -> str:
        return (
            f'New signing secret of {rule["id"]} ({render.escape(rule["name"])}) (shown only now): '
            f'[bold]{rule["secret"]}[/]\n'
            'Every attempt from now on is signed with it; the old one no longer verifies.'
        )

    Cli.make(server, json_output).show(lambda client: client.new_notification_secret(project, rule), shown)


@notifications_app.command('remove')
def notifications_remove(
    project: ProjectArg, rule: RuleArg, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Delete a rule and its delivery log (operators)."""

    async def remove(client: RunboardClient) -> dict:
        await client.remove_notification_rule(project, rule)
        return {'removed': rule}

    Cli.make(server, json_output).show(remove, lambda answer: f'Removed {answer["removed"]}.')


def _deliveries_table(page: dict) -> Table | str:
    if not page['items']:
        return 'No deliveries.'
    table = Table('Delivery id', 'Created (UTC)', 'Event', 'Rule', 'Status', 'Attempts')
    for item in page['items']:
        # before any attempt, where it stands: pending, held for a run's automatic retry, not sent
        attempts = '\n'.join(render.escape(attempt_text(a)) for a in item['attempt_log'])
        attempts = attempts or render.escape(delivery_state(item))
        table.add_row(
            item['id'],
            item['created_at'][:19].replace('T', ' '),
            item['event_type'] + (f'\n{item["run_id"]}' if item.get('run_id') else ''),
            render.escape(item['rule_name']),
            STATUS_LABELS.get(item['status'], item['status']),
            attempts,
        )
    return table


@deliveries_app.command('list')
def notifications_deliveries(
    project: ProjectArg,
    rule: Annotated[Optional[str], typer.Option('--rule', '-r', help='Only this rule.', callback=given_id)] = None,
    status: Annotated[
        Optional[str],
        typer.Option('--status', '-s', help='pending, delivered, failed, gave_up, held, skipped (comma-separated).'),
    ] = None,
    limit: Annotated[int, typer.Option('--limit', '-n', min=1, max=200, help='At most this many.')] = 20,
    cursor: Annotated[
        Optional[str], typer.Option('--cursor', help='Continue after this delivery id.', callback=given_id)
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """The project's deliveries, newest first, with each attempt's outcome (also `deliveries PROJECT`)."""

    async def page(client: RunboardClient) -> dict:
        answer = await client.deliveries(project, rule=rule, status=status, cursor=cursor, limit=limit)
        if not answer['items'] and rule:
            await client.notification_rule(project, rule)  # a mistyped rule is exit 4 (not found), not "none"
        return answer

    Cli.make(server, json_output).show(page, _deliveries_table, paged=True)


def _inert(text: str) -> Text:
    """Text from a receiver or a run as plain terminal text: the server made it inert; this keeps it so."""
    return Text(render.without_controls(text))


def _body(payload: str) -> str:
    """The body as sent, indented for a person when it is JSON (--json has it byte for byte)."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def delivery_details(delivery: dict) -> Group:
    """One delivery for a person: its facts, each attempt (to an operator with what the receiver answered), and
    the body it sends."""
    event = EVENT_LABELS.get(delivery['event_type'], delivery['event_type'])
    facts = render.key_values(
        [
            ('Delivery', delivery['id']),
            ('Event', f'{event} ({delivery["event_type"]}, {delivery["event_id"]})'),
            ('Run', delivery.get('run_id')),
            ('Project', delivery['project_id']),
            ('Rule', _inert(f'{delivery["rule_name"]} ({delivery["rule_id"]})')),
            ('Status', STATUS_LABELS.get(delivery['status'], delivery['status'])),
            ('Where it stands', _inert(delivery_state(delivery))),
            ('Created', render.when(delivery.get('created_at'))),
            ('Delivered', render.when(delivery.get('delivered_at'))),
        ]
    )
    parts: list[Any] = [facts, Text()]
    attempts = delivery.get('attempt_log') or []
    parts.append(Text(f'Attempts ({len(attempts)})', style='bold'))
    if not attempts:
        parts.append(Text('  none yet'))
    for attempt in attempts:
        parts.append(Text('  ') + _inert(attempt_text(attempt)))
        if delivery.get('answers_shown') and attempt.get('status_code') is not None:
            answer = attempt.get('answer')
            parts.append(Text('    Answer: ', style='dim') + _inert(answer_heading(answer)))
            for line in ((answer or {}).get('excerpt') or '').splitlines():
                parts.append(Text('    │ ', style='dim') + _inert(line))
    if attempts and not delivery.get('answers_shown'):
        parts.append(Text('  What the receiver answered is shown to operators only.', style='dim'))
    parts += [Text(), Text('Body sent', style='bold'), _inert(_body(delivery['payload']))]
    return Group(*parts)


@deliveries_app.command('show')
def notifications_delivery_show(delivery: DeliveryArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Show one delivery: its event, rule and state, each attempt (operators: with what the receiver answered, its
    Content-Type and the first 2 KiB of its body) and the body it sends. Exit 4 when there is no such delivery."""
    Cli.make(server, json_output).show(lambda client: client.delivery(delivery), delivery_details)


def _attempted(cli: Cli, send: Any) -> None:
    """Send, print the delivery's state; exit 1 when that attempt did not deliver."""

    async def work(client: RunboardClient) -> int:
        delivery = await send(client)
        if cli.json:
            cli.print_json(delivery)
        else:
            cli.out.print(f'{delivery["id"]} ({delivery["event_type"]}): {render.escape(delivery_state(delivery))}')
        return int(Exit.OK if delivery['status'] == 'delivered' else Exit.RUN_NOT_SUCCEEDED)

    cli.execute(work)


@notifications_app.command('redeliver')
def notifications_redeliver(delivery: DeliveryArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Send a delivery again now, same id and body (operators). Exit 1 when that attempt failed (it is retried)."""
    _attempted(Cli.make(server, json_output), lambda client: client.redeliver(delivery))


@notifications_app.command('redeliver-gave-up')
def notifications_redeliver_gave_up(
    project: ProjectArg,
    rule: RuleArg,
    since: Annotated[
        Optional[str],
        typer.Option(
            '--since',
            metavar='12h|TIME',
            help='Those that gave up since: a duration back from now (12h, 90m, 2d) or a time (2026-05-11T22:00, in '
            "this terminal's zone unless it names an offset). Default: the last 24 hours.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option('--dry-run', help='Only count what it would queue and skip.')] = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Send again every delivery of a rule that gave up in the last 24 hours (or --since), each under its own id
    (operators). Says how many it queued and which it skipped, why; run twice, it queues none of them twice."""
    asked = since_value(since, datetime.now().astimezone()) if since else None
    window = f'since {since}' if since else 'in the last 24 hours'

    async def work(client: RunboardClient) -> dict:
        return await client.redeliver_gave_up(project, rule, since=asked, dry_run=dry_run)

    Cli.make(server, json_output).show(work, lambda answer: _inert(bulk_result(answer, rule, window)))


@notifications_app.command('test')
def notifications_test(
    project: ProjectArg, rule: RuleArg, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Send a `ping` to the rule's URL now (operators). Exit 1 when it was not delivered."""
    _attempted(Cli.make(server, json_output), lambda client: client.test_notification_rule(project, rule))
