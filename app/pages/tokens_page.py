"""People and tokens (`/settings/tokens`): for operators, the people in your teams with their API tokens; add a
person (who gets a first token), create a token for someone, revoke one, change a person's role, remove a person from
your teams (its confirmation says what that does, as the server's preview answers it). For anyone else, "Your
tokens": their own row, with New token and Revoke (personal tokens). A new token is shown once, in a dialog with a
Copy button; closing the dialog removes it from the page. Revoking the token this browser signed in with says so
first, and the page's next request (the list it reloads) is refused: the browser is signed out (state/connection.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.signin import signed_in
from app.pages.theme import frame, live_relative, parse_time
from app.pages.widgets import confirm, correlation_chip, error_notice, notify_error
from app.state import connection
from app.state.error_text import in_words
from app.state.form_problems import GENERAL, field_errors
from app.state.me import is_operator, who_am_i
from app.state.people_view import (
    PERSON_FIELDS,
    ROLES,
    SHOWN_ONCE,
    TOKEN_FIELDS,
    last_used_text,
    not_managed,
    own_person,
    person_actions,
    removal_lines,
    removed_text,
    revoke_question,
    revoked_text,
    role_change_text,
    role_changed_text,
    row_reasons,
    teams_text,
    token_count,
)
from app.state.text import shown

Done = Callable[[], Awaitable[None]]


def show_token_once(answer: dict[str, Any], title: str, on_closed: Done) -> None:
    """The token, once: a warning, the value (selectable), Copy. Closing forgets it."""
    token = answer['token']
    with ui.dialog().props('persistent') as dialog, ui.card().classes('w-full max-w-xl gap-3'):
        dialog.props('data-testid=token-once')
        ui.label(title).classes('text-lg font-bold').props('role=heading aria-level=2 dir=auto')
        with ui.element('div').classes('w-full rb-banner rb-banner-amber').props('role=alert'):
            ui.label(SHOWN_ONCE.format(person=shown(answer['user_name'])))
        value = ui.input('Token', value=token).classes('w-full font-mono')
        value.props('readonly data-testid=new-token-value autocomplete=off spellcheck=false')

        def copy() -> None:
            ui.clipboard.write(token)
            ui.notify('Token copied to the clipboard.', position='bottom', timeout=2000)

        async def close() -> None:
            value.value = ''
            dialog.close()
            dialog.delete()
            await on_closed()

        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Copy', icon='content_copy', on_click=copy).props('data-testid=copy-token').classes('rb-tap')
            ui.button('I have copied it', on_click=close).props('flat data-testid=token-done').classes('rb-tap')
    dialog.open()


def _form_failed(boxes: dict[str, Any], message: ui.column, exc: ApiError, fields: tuple, doing: str) -> None:
    for box in boxes.values():
        box.error = None
    errors = field_errors(exc.status, exc.body, fields) if exc.status < 500 else {}
    for key, text in errors.items():
        if key in boxes:
            boxes[key].error = text
    general = errors.get(GENERAL) or ('' if errors else in_words(exc, doing))
    message.clear()
    if general:
        with message, ui.row().classes('items-center gap-2').props('role=alert'):
            ui.label(general).classes('text-negative text-sm')
            correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')


def add_person_dialog(host: ui.element, teams: list[dict], on_done: Done) -> None:
    """host: where the next dialog goes (this one is gone by then)."""
    with host, ui.dialog() as dialog, ui.card().classes('w-full max-w-lg gap-2').props('data-testid=add-person-dialog'):
        ui.label('Add a person').classes('text-lg font-bold').props('role=heading aria-level=2')
        boxes: dict[str, Any] = {
            'name': ui.input('Name').props('data-testid=person-name autofocus'),
            'role': ui.select(ROLES, label='Role', value='builder').props('data-testid=person-role'),
            'token_name': ui.input('First token name', value='default').props('data-testid=person-token-name'),
        }
        if len(teams) > 1:
            options = {team['id']: team['name'] for team in teams}
            boxes['team_id'] = ui.select(options, label='Team', value=teams[0]['id']).props('data-testid=person-team')
        for box in boxes.values():
            box.classes('w-full')
        message = ui.column().classes('w-full').props('aria-live=polite')

        async def add() -> None:
            team = boxes['team_id'].value if 'team_id' in boxes else None
            try:
                answer = await connection.client().add_person(
                    name=boxes['name'].value or '',
                    role=boxes['role'].value,
                    team_id=team,
                    token_name=boxes['token_name'].value or '',
                )
            except ApiError as exc:
                _form_failed(boxes, message, exc, PERSON_FIELDS, 'add the person')
                return
            with host:
                show_token_once(
                    answer['token'], f'{shown(answer["person"]["name"])} is in. Their first token:', on_done
                )
            dialog.close()
            dialog.delete()

        with ui.row().classes('w-full justify-end'):
            ui.button('Cancel', on_click=dialog.close).props('flat').classes('rb-tap')
            ui.button('Add person', icon='person_add', on_click=add).props('data-testid=add-person-submit')
    dialog.open()


def new_token_dialog(host: ui.element, person: dict[str, Any], on_done: Done, *, mine: bool = False) -> None:
    name = shown(person['name'])
    with host, ui.dialog() as dialog, ui.card().classes('w-full max-w-lg gap-2').props('data-testid=new-token-dialog'):
        title = 'New token for you' if mine else f'New token for {name}'
        ui.label(title).classes('text-lg font-bold').props('role=heading aria-level=2 dir=auto')
        others = 'Your other tokens' if mine else 'Their other tokens'
        ui.label(f'{others} keep working. Name it after where it will be used.').classes('text-sm')
        box = ui.input('Token name', placeholder='e.g. laptop, ci').classes('w-full')
        box.props('data-testid=token-name autofocus')
        message = ui.column().classes('w-full').props('aria-live=polite')

        async def create() -> None:
            try:
                user_id = None if mine else person['id']  # one's own: the server takes the caller
                answer = await connection.client().create_token(user_id=user_id, name=box.value or '')
            except ApiError as exc:
                _form_failed({'name': box}, message, exc, TOKEN_FIELDS, 'create the token')
                return
            with host:
                show_token_once(answer, f'Token "{shown(answer["name"])}" for {name}', on_done)
            dialog.close()
            dialog.delete()

        box.on('keydown.enter', create)
        with ui.row().classes('w-full justify-end'):
            ui.button('Cancel', on_click=dialog.close).props('flat').classes('rb-tap')
            ui.button('Create token', icon='key', on_click=create).props('data-testid=create-token-submit')
    dialog.open()


def change_role_dialog(
    host: ui.element, person: dict[str, Any], on_done: Callable[[dict], Awaitable[None]], *, mine: bool
) -> None:
    """Choose the role; the text under the choice says what it does, and that it holds from the next request."""
    name = shown(person['name'])
    with (
        host,
        ui.dialog() as dialog,
        ui.card().classes('w-full max-w-lg gap-2').props('data-testid=change-role-dialog'),
    ):
        ui.label('Change your role' if mine else f'Change the role of {name}').classes('text-lg font-bold').props(
            'role=heading aria-level=2 dir=auto'
        )
        choice = ui.select(ROLES, label='Role', value=person['role']).classes('w-full').props('data-testid=role-select')
        effect = ui.label(role_change_text(person['name'], person['role'], mine=mine)).classes('text-sm')
        choice.on_value_change(lambda e: effect.set_text(role_change_text(person['name'], e.value, mine=mine)))
        message = ui.column().classes('w-full').props('aria-live=polite')

        async def save() -> None:
            try:
                changed = await connection.client().change_role(person['id'], choice.value)
            except ApiError as exc:
                _form_failed({'role': choice}, message, exc, ('role',), 'change the role')
                return
            dialog.close()
            with host:  # not the dialog's slot: it goes next
                ui.notify(role_changed_text(changed, mine=mine), type='positive', position='bottom')
                await on_done(changed)
            dialog.delete()

        with ui.row().classes('w-full justify-end'):
            ui.button('Cancel', on_click=dialog.close).props('flat autofocus').classes('rb-tap')
            ui.button('Save role', on_click=save).props('data-testid=change-role-submit').classes('rb-tap')
    dialog.open()


async def confirm_removal(lines: list[str], title: str, *, action: str) -> bool:
    """The removal's confirmation: what it will do, a line each; `action` on its button; Cancel has the focus (as
    `confirm`)."""
    # in the page's layout, not beside the button that asked (the list reloads under it), as `confirm` does
    with (
        ui.context.client.layout,
        ui.dialog() as dialog,
        ui.card().classes('w-full max-w-lg gap-2').props('role=alertdialog data-testid=remove-person-dialog'),
    ):
        ui.label(title).classes('text-lg font-bold').props('role=heading aria-level=2 dir=auto')
        with ui.column().classes('gap-1').props('role=list'):
            for line in lines:
                ui.label(line).classes('text-sm').props('role=listitem dir=auto data-testid=removal-effect')
        with ui.row().classes('justify-end w-full'):
            ui.button('Cancel', on_click=lambda: dialog.submit(False)).props('flat autofocus').classes('rb-tap')
            ui.button(action, on_click=lambda: dialog.submit(True), color='negative').props(
                'data-testid=remove-person-submit'
            ).classes('rb-tap')
    result = await dialog
    dialog.delete()
    return bool(result)


async def _people() -> list[dict[str, Any]]:
    return await connection.client().list_people()


class PeopleView:
    """The people and their tokens: an operator's teams (GET /api/users), or the caller alone (`own=True`: from
    GET /api/me and their GET /api/tokens, for a builder, who may not list people)."""

    def __init__(self, me: dict[str, Any], teams: list[dict], *, own: bool = False) -> None:
        self.me, self.teams, self.own = me, teams, own
        self.people: list[dict[str, Any]] = []
        self.team_names = {team['id']: team['name'] for team in teams}
        self.host = ui.element('div')  # the dialogs
        self.message = ui.column().classes('w-full')
        label = 'Your tokens' if own else 'People'
        self.box = attrs(
            ui.column().classes('w-full gap-3').props('role=list data-testid=people'), {'aria-label': label}
        )

    async def _own(self) -> list[dict[str, Any]]:
        return [own_person(self.me, await connection.client().list_tokens())]

    async def load(self) -> None:
        try:
            people = await (self._own() if self.own else _people())
        except ApiError as exc:
            error_notice(self.message, exc, 'list your tokens' if self.own else 'list the people in your teams')
            return
        self.message.clear()
        self.box.clear()
        self.people = people
        with self.box:
            for person in people:
                self.person(person)
        self.box.props('data-loaded=true')

    def person(self, person: dict[str, Any]) -> None:
        mine = person['id'] == self.me.get('user_id')
        unmanaged = not_managed(person, self.me)  # the server's rule: it would refuse New token and Revoke (403)
        # the server's rules of people: Change role and Remove from team (403 or 409 otherwise); not on "Your tokens"
        offered = None if self.own else person_actions(person, self.me, self.people, self.team_names)
        reasons = row_reasons(unmanaged, offered)
        with attrs(ui.card().classes('w-full gap-1 rb-row').props('role=listitem'), {'data-person': str(person['id'])}):
            with ui.row().classes('w-full items-center gap-2 flex-wrap'):
                ui.label(shown(person['name'])).classes('font-bold').props('dir=auto')
                if mine:
                    ui.badge('you').props('outline')
                attrs(ui.chip(person['role']).props('dense outline'), {'data-role': person['role']})
                ui.label(teams_text(person['teams'], self.team_names)).classes('text-sm opacity-80')
                ui.label(token_count(person)).classes('text-xs opacity-60')
                ui.space()
                for reason, of_tokens in reasons:
                    with attrs(
                        ui.row().classes('items-center gap-1 text-xs opacity-80'),
                        {'data-testid': 'not-managed' if of_tokens else 'person-not-changed'},
                    ):
                        ui.icon('lock').props('aria-hidden=true')
                        ui.label(reason.caption)
                        ui.tooltip(reason.why)
                if unmanaged is None:
                    ui.button(
                        'New token',
                        icon='key',
                        on_click=lambda p=person: new_token_dialog(self.host, p, self.load, mine=mine),
                    ).props('flat dense no-caps data-testid=new-token').classes('rb-tap')
                if offered is not None and offered.change_role is None:
                    ui.button('Change role', icon='badge', on_click=lambda: self.change_role(person, mine=mine)).props(
                        'flat dense no-caps data-testid=change-role'
                    ).classes('rb-tap')
                if offered is not None and offered.remove is None:
                    ui.button(
                        'Leave team' if mine else 'Remove from team',
                        icon='person_remove',
                        color='negative',
                        on_click=lambda: self.remove(person, mine=mine),
                    ).props('flat dense no-caps data-testid=remove-person').classes('rb-tap')
            for reason, _ in reasons:
                ui.label(reason.why).classes('sr-only')  # the tooltip's words, for a screen reader too
            for token in person['tokens']:
                self.token(person, token, managed=unmanaged is None, mine=mine)

    def change_role(self, person: dict[str, Any], *, mine: bool) -> None:
        async def done(_changed: dict) -> None:
            if mine:  # the page itself is a builder's now, or an operator's again
                ui.navigate.reload()
            else:
                await self.load()

        change_role_dialog(self.host, person, done, mine=mine)

    async def remove(self, person: dict[str, Any], *, mine: bool) -> None:
        """Ask the server what removing them does, say it, and do it if confirmed."""
        doing = 'leave the team' if mine else f'remove {person["name"]}'
        try:
            plan = await connection.client().removal_preview(person['id'])
        except ApiError as exc:
            notify_error(exc, doing)
            return
        title = 'Leave your teams?' if mine else f'Remove {shown(person["name"])} from your teams?'
        action = 'Leave team' if mine else 'Remove from team'
        if not await confirm_removal(removal_lines(plan, self.team_names, mine=mine), title, action=action):
            return
        try:
            done = await connection.client().remove_person(person['id'])
        except ApiError as exc:
            notify_error(exc, doing)
            return
        ui.notify(removed_text(done, self.team_names), type='positive', position='bottom')
        if mine:
            ui.navigate.to('/')  # out of these teams (signed out, when in none any more)
        else:
            await self.load()

    def token(self, person: dict[str, Any], token: dict[str, Any], *, managed: bool, mine: bool) -> None:
        this_browser = token['id'] == self.me.get('token_id')
        with attrs(ui.row().classes('w-full items-center gap-2 pl-2'), {'data-token': str(token['id'])}):
            ui.icon('key').classes('opacity-60')
            ui.label(shown(token['name'])).classes('text-sm').props('dir=auto data-testid=token-name-label')
            ui.label(token['id']).classes('font-mono text-xs opacity-70')
            live_relative(ui.label().classes('text-xs opacity-70'), token['created_at'], prefix='created ')
            used = parse_time(token.get('last_used_at'))
            ui.label(last_used_text(used, datetime.now(UTC))).classes('text-xs opacity-70').props(
                'data-testid=last-used'
            )
            if this_browser:
                ui.badge('this page').props('outline color=primary')
            ui.space()

            async def revoke() -> None:
                question = revoke_question(
                    person['name'], token['name'], token['id'], this_browser=this_browser, mine=mine
                )
                if not await confirm(question, yes='Revoke'):
                    return
                try:
                    await connection.client().revoke_token(token['id'])
                except ApiError as exc:
                    notify_error(exc, f'revoke token {token["name"]}')
                    return
                ui.notify(revoked_text(person['name'], token['name']), type='positive', position='bottom')
                await self.load()

            if this_browser and not connection.sign_in_required():  # login-free: the server's own sign-in token
                ui.label("this machine's browser and CLI sign in with it").classes('text-xs opacity-70').props(
                    'data-testid=local-token'
                )
            elif managed:
                ui.button('Revoke', icon='block', color='negative', on_click=revoke).props(
                    'flat dense no-caps data-testid=revoke'
                ).classes('rb-tap')


async def own_tokens(me: dict[str, Any]) -> None:
    """A builder's page: their own tokens, to create and revoke (people are the operators')."""
    ui.label('Your tokens').classes('text-xl font-bold').props('role=heading aria-level=1')
    ui.label(
        'API tokens are for the CLI, scripts and signing in. Each acts as you, with your role; revoke one as soon as '
        'it is no longer needed. Operators of your team manage people.'
    ).classes('text-sm opacity-80')
    try:
        teams = await connection.client().teams()
    except ApiError:
        teams = []
    await PeopleView(me, teams, own=True).load()


@ui.page('/settings/tokens')
@signed_in
async def tokens_page() -> None:
    me = await who_am_i(fresh=True)
    if me is not None and not is_operator(me):
        with frame('Your tokens'):
            await own_tokens(me)
        return
    with frame('People and tokens'):
        with ui.row().classes('items-baseline gap-2'):
            ui.link('Settings', '/settings').classes('rb-tap-link')
            ui.label('/ People and tokens').classes('text-xl font-bold').props('role=heading aria-level=1')
        if me is None:
            with ui.element('div').classes('rb-banner rb-banner-amber').props('role=note data-testid=readonly-note'):
                ui.label('The server did not say who you are. Reload the page in a moment.')
            return
        ui.label(
            'API tokens are for the CLI, scripts and signing in. Each acts as its person, with their role.'
        ).classes('text-sm opacity-80')
        try:
            teams = await connection.client().teams()
        except ApiError:
            teams = []
        view: PeopleView

        async def reload() -> None:
            await view.load()

        ui.button('Add person', icon='person_add', on_click=lambda: add_person_dialog(view.host, teams, reload)).props(
            'data-testid=add-person'
        ).classes('rb-tap')
        view = PeopleView(me, teams)
        await view.load()
