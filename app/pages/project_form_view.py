"""The project form's boxes (New project and Settings pages), grouped as a person thinks of a project: what it
is, where its code comes from, what a run executes, its limits, where AFK issues come from. Read-only for
builders. The text typed <-> the API body is app/state/project_form.py; the server's 422 lands beside the
box it names (show_errors)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.pages.attributes import attrs
from app.pages.repository_settings import stored_text
from app.state.form_problems import GENERAL
from app.state.form_text import COMMAND_MODES, DURATION_HINT, CommandMode, switch_command_mode
from app.state.project_form import (
    AUTO_RETRY_CHOICES,
    AUTO_RETRY_ON,
    CREDENTIAL_CHOICES,
    FORGE_FIELDS,
    SOURCE_KINDS,
    ProjectDraft,
    argv_preview,
    slug_of,
)

FORGE_LABELS = {
    'api_url': 'API URL (empty: from the repository URL)',
    'owner': 'Owner (empty: from the repository URL)',
    'repo': 'Repository name (empty: from the repository URL)',
    'token_env': 'Token variable on the server, RUNBOARD_FORGE_TOKEN_<NAME> (preferred to a stored token)',
    'label': 'Ready label (empty: ready-for-agent)',
}


def _section(title: str) -> None:
    # mt-6: Quasar draws a field's hint below it without making room for a second line, and the hint above a
    # section (Runner labels' on a phone, Max concurrent runs') takes two
    ui.label(title).classes('text-base font-medium mt-6').props('role=heading aria-level=2')


class ProjectFormView:
    """new: the New project form (id and team editable, credentials start at None); else the Settings form."""

    def __init__(
        self,
        draft: ProjectDraft,
        *,
        new: bool,
        readonly: bool,
        teams: list[dict] | None = None,
        stored_credentials: str | None = None,
    ) -> None:
        self.new, self.readonly, self.stored_credentials = new, readonly, stored_credentials
        self.boxes: dict[str, Any] = {}  # field -> the box its server message goes beside
        self.source_extra, self.source_has_token = draft.source_extra, draft.source_has_token
        with ui.column().classes('w-full gap-1').props('data-testid=project-form'):
            self._identity(draft, teams or [])
            self._repository(draft)
            self._command(draft)
            self._limits(draft)
            self._issue_source(draft)
        if readonly:
            for box in self.boxes.values():
                if isinstance(box, ui.input | ui.number):
                    box.props('readonly')  # still selectable and copyable
                else:
                    box.disable()
            self.mode.disable()
            self.credentials.set_visibility(False)  # the stored kind says it all

    def _box(self, key: str, box: Any) -> Any:
        attrs(box.classes('w-full').props('spellcheck=false'), {'data-testid': f'field-{key}'})
        self.boxes[key] = box
        return box

    def _identity(self, draft: ProjectDraft, teams: list[dict]) -> None:
        _section('Project')
        with ui.row().classes('w-full gap-4 no-wrap max-sm:flex-wrap'):
            self.name = self._box('name', ui.input('Name', value=draft.name))
            self.id = self._box('id', ui.input('Project id', value=draft.id))
            self.id.props('hint="Lowercase letters, digits and dashes; used in URLs and the CLI"')
            if not self.new:
                self.id.props('readonly hint="The id cannot change"')
            else:  # suggested from the name until the person types an id of their own
                self.name.on_value_change(lambda e: self._suggest_id(e.value))
                self.suggested = self.id.value or ''
        self.team = None
        if self.new and len(teams) > 1:
            options = {team['id']: team['name'] for team in teams}
            self.team = self._box('team_id', ui.select(options, label='Team', value=draft.team_id))

    def _suggest_id(self, name: str | None) -> None:
        if (self.id.value or '') == self.suggested:
            self.id.value = self.suggested = slug_of(name or '')

    def _repository(self, draft: ProjectDraft) -> None:
        _section('Repository')
        # each box is made with its value: one set after it is made is sent to the browser again once its connection
        # is up (NiceGUI's updateValue), and would put back what the person typed in the meantime
        self.repository = self._box(
            'repository', ui.input('Repository (absolute path or clone URL)', value=draft.repository)
        )
        self.base_branch = self._box('base_branch', ui.input('Base branch', value=draft.base_branch))
        choices = {k: v for k, v in CREDENTIAL_CHOICES.items() if k != 'keep' or not self.new}
        with ui.row().classes('w-full gap-4 no-wrap max-sm:flex-wrap items-start'):
            self.credentials = self._box('credentials', ui.select(choices, label='Git credentials'))
            self.credentials.value = draft.credentials
            self.username = ui.input('User name', placeholder='git').classes('w-full')
            self.username.props('data-testid=credentials-username spellcheck=false')
        if not self.new:
            self.stored_label = ui.label(stored_text(self.stored_credentials)).classes('text-xs opacity-70')
            self.stored_label.props('data-testid=stored-credentials')
        self.token = ui.input('Token', password=True).classes('w-full')
        self.token.props('data-testid=credentials-token autocomplete=new-password')
        self.key = ui.textarea('SSH private key').classes('w-full font-mono').props('data-testid=credentials-key')
        self.credentials.on_value_change(lambda _: self._show_credentials())
        self._show_credentials()

    def _show_credentials(self) -> None:
        choice = self.credentials.value
        self.username.set_visibility(choice in ('token', 'ssh_key'))
        self.token.set_visibility(choice == 'token')
        self.key.set_visibility(choice == 'ssh_key')

    def _command(self, draft: ProjectDraft) -> None:
        _section('What a run executes')
        self.mode = ui.toggle(COMMAND_MODES, value=draft.command_mode).props('no-caps dense data-testid=command-mode')
        self.command = self._box(
            'command', ui.textarea('Command (an argv list: no shell runs it)', value=draft.command)
        )
        self.command.classes('font-mono').props('autogrow')
        self.preview = ui.row().classes('items-center gap-1 flex-wrap text-sm').props('data-testid=argv-preview')
        self.mode.on_value_change(self._mode_changed)
        self.command.on_value_change(lambda _: self._draw_preview())
        self._draw_preview()
        for key, label in (('depth_levels', 'Depth levels'), ('target_frameworks', 'Target frameworks')):
            box = self._box(key, ui.input(label, value=getattr(draft, key)))
            box.props('hint="Comma-separated; the Run form offers them in this order"')
        runs_on = self._box('runs_on', ui.input('Runner labels', value=draft.runs_on))
        runs_on.props('hint="Comma-separated; with Celery workers, a run goes to a worker holding all of them"')
        runs_on.props('placeholder="none: any worker"')

    def _mode_changed(self, event: Any) -> None:
        old: CommandMode = 'lines' if event.value == 'line' else 'line'
        self.command.value = switch_command_mode(self.command.value or '', old, event.value)
        self._draw_preview()

    def _draw_preview(self) -> None:
        argv = argv_preview(ProjectDraft(command=self.command.value or '', command_mode=self.mode.value))
        self.preview.clear()
        with self.preview:
            ui.label('Will run:').classes('opacity-70')
            if isinstance(argv, str):
                ui.label(argv).classes('italic opacity-80').props('data-testid=argv-problem')
                return
            for index, arg in enumerate(argv):
                attrs(
                    ui.label(arg).classes('font-mono rb-chip px-2 border').props('dir=auto'), {'data-arg': str(index)}
                )

    def _limits(self, draft: ProjectDraft) -> None:
        _section('Limits')
        with ui.row().classes('w-full gap-x-4 gap-y-8 no-wrap max-sm:flex-wrap items-start'):  # gap-y: two-line hints
            self.concurrency = self._box('max_concurrent_runs', ui.number('Max concurrent runs'))
            self.concurrency.value = draft.max_concurrent_runs
            self.concurrency.props(
                'hint="Runs of this repository at once; a trigger past it is refused and names the runs in the way"'
            )
            self.budget = self._box('run_budget_seconds', ui.input('Run budget', value=draft.run_budget))
            attrs(
                self.budget.props('placeholder="the server default"'),
                {'hint': f'The longest a run may take: {DURATION_HINT}'},
            )
            self.ttl = self._box('queued_ttl_seconds', ui.input('Queued runs expire after', value=draft.queued_ttl))
            self.ttl.props('hint="A duration; a queued run still waiting then ends expired" placeholder="never"')
        # mt-6: room for the two-line hints of the row above (Quasar does not make it)
        with ui.row().classes('w-full gap-x-4 gap-y-8 no-wrap max-sm:flex-wrap items-start mt-6'):
            self.auto_retry = self._box(
                'auto_retry', ui.select(AUTO_RETRY_CHOICES, label='Retry automatically', value=draft.auto_retry)
            )
            self.auto_retry.props('hint="Runboard starts the retry itself, as the run\'s person (GitLab\'s retry:)"')
            self.auto_retry_on = self._box(
                'auto_retry_on',
                ui.select(AUTO_RETRY_ON, label='When a run ends because', value=draft.auto_retry_on, multiple=True),
            )
            self.auto_retry_on.props('use-chips hint="Crashed: its machine was lost; timed out: it passed its budget"')
        with ui.row().classes('w-full gap-x-4 no-wrap max-sm:flex-wrap items-start mt-6'):
            self.log_retention = self._box('log_retention_days', ui.number('Keep run logs (days)'))
            self.log_retention.value = draft.log_retention
            self.log_retention.props(
                'placeholder="the server\'s setting" hint="Then a run\'s output leaves the database; the run, its '
                'status and its tests stay"'
            )
            self.run_memory = self._box('run_memory_max', ui.input('Memory limit per run', value=draft.run_memory))
            self.run_memory.props(
                'placeholder="the server\'s setting" hint="e.g. 4GiB: past it the kernel ends a process of the run; '
                'the History shows what runs used"'
            )
            self.run_cpus = self._box('run_cpus', ui.input('CPUs per run', value=draft.run_cpus))
            self.run_cpus.props(
                'placeholder="the server\'s setting" hint="e.g. 1.5 cores: past it the run is slowed, never ended"'
            )

    def _issue_source(self, draft: ProjectDraft) -> None:
        _section('AFK issues come from')
        self.kind = self._box('issue_source', ui.select(SOURCE_KINDS, label='Issue source', value=draft.source_kind))
        self.forge = ui.column().classes('w-full gap-1')
        with self.forge:
            self.source = {k: ui.input(FORGE_LABELS[k], value=draft.source.get(k, '')) for k in FORGE_FIELDS}
            for key, box in self.source.items():
                attrs(box.classes('w-full').props('spellcheck=false'), {'data-testid': f'source-{key}'})
            stored = 'A token is stored (never shown): leave empty to keep it' if draft.source_has_token else ''
            self.source_token = ui.input('Forge API token', password=True).classes('w-full')
            attrs(self.source_token.props('autocomplete=new-password data-testid=source-token'), {'hint': stored})
            self.boxes['source_token'] = self.source_token
        self.kind.on_value_change(lambda _: self.forge.set_visibility(self.kind.value != 'local'))
        self.forge.set_visibility(draft.source_kind != 'local')
        self.cost_cap = self._box(
            'afk_cost_cap_usd_per_day', ui.input('AFK cost cap per day (USD)', value=draft.afk_cost_cap)
        )
        self.cost_cap.props(
            'data-testid=afk-cost-cap placeholder="no cap" inputmode=decimal '
            'hint="When the AFK runs\' reported cost reaches it on a UTC day, the loop launches no more that day"'
        )
        self.cap_stops = (
            ui.checkbox('Also stop an AFK run that passes the cap while it runs', value=draft.afk_cost_cap_stops_runs)
            .props('data-testid=afk-cost-cap-stops-runs')
            .classes('mt-4')
        )  # below the cap's hint, two lines on a phone

    def fill(self, draft: ProjectDraft, stored_credentials: str | None) -> None:
        """Show `draft` in place of what the boxes hold (Reload: the project as it is now), its stored credentials'
        kind beside them; the secret boxes are emptied and the messages beside the boxes cleared."""
        self.show_errors({})
        self.mode.value = draft.command_mode  # first: switching the mode rewrites the command box, set next
        self.command.value = draft.command
        for box, value in (
            (self.name, draft.name),
            (self.repository, draft.repository),
            (self.base_branch, draft.base_branch),
            (self.boxes['depth_levels'], draft.depth_levels),
            (self.boxes['target_frameworks'], draft.target_frameworks),
            (self.boxes['runs_on'], draft.runs_on),
            (self.concurrency, draft.max_concurrent_runs),
            (self.budget, draft.run_budget),
            (self.ttl, draft.queued_ttl),
            (self.auto_retry, draft.auto_retry),
            (self.auto_retry_on, list(draft.auto_retry_on)),
            (self.log_retention, draft.log_retention),
            (self.run_memory, draft.run_memory),
            (self.run_cpus, draft.run_cpus),
            (self.kind, draft.source_kind),
            (self.cost_cap, draft.afk_cost_cap),
            (self.cap_stops, draft.afk_cost_cap_stops_runs),
            (self.credentials, draft.credentials),
        ):
            box.value = value
        for key, box in self.source.items():
            box.value = draft.source.get(key, '')
        self.source_extra, self.source_has_token = dict(draft.source_extra), draft.source_has_token
        hint = 'A token is stored (never shown): leave empty to keep it' if draft.source_has_token else ''
        attrs(self.source_token, {'hint': hint})
        self.stored_credentials = stored_credentials
        self.stored_label.text = stored_text(stored_credentials)
        self.forget_secrets()
        self.username.value = ''

    def draft(self) -> ProjectDraft:
        """What the boxes hold now."""
        return ProjectDraft(
            id=self.id.value or '',
            team_id=self.team.value if self.team is not None else None,
            name=self.name.value or '',
            repository=self.repository.value or '',
            base_branch=self.base_branch.value or '',
            command=self.command.value or '',
            command_mode=self.mode.value,
            depth_levels=self.boxes['depth_levels'].value or '',
            target_frameworks=self.boxes['target_frameworks'].value or '',
            runs_on=self.boxes['runs_on'].value or '',
            max_concurrent_runs=self.concurrency.value,
            run_budget=self.budget.value or '',
            queued_ttl=self.ttl.value or '',
            afk_cost_cap=self.cost_cap.value or '',
            afk_cost_cap_stops_runs=bool(self.cap_stops.value),
            log_retention=self.log_retention.value,
            run_memory=self.run_memory.value or '',
            run_cpus=self.run_cpus.value or '',
            auto_retry=int(self.auto_retry.value or 0),
            auto_retry_on=list(self.auto_retry_on.value or []),
            source_kind=self.kind.value,
            source={k: box.value or '' for k, box in self.source.items()},
            source_token=self.source_token.value or '',
            source_has_token=self.source_has_token,
            source_extra=dict(self.source_extra),
            credentials=self.credentials.value,
            credentials_username=self.username.value or '',
            credentials_secret=(self.token.value if self.credentials.value == 'token' else self.key.value) or '',
        )

    def show_errors(self, errors: dict[str, str]) -> str:
        """Each message beside its box; returns the messages that belong to no box (for above the button)."""
        for box in self.boxes.values():
            box.error = None
        rest = []
        for key, message in errors.items():
            box = self.boxes.get(key)
            if key == GENERAL or box is None:
                rest.append(message)
            else:
                box.error = message
        return ' '.join(rest)

    def forget_secrets(self) -> None:
        """A sent secret is never kept in the page."""
        self.token.value = self.key.value = self.source_token.value = ''
