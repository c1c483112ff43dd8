"""The cockpit's small dialogs: copy a command, write a line, pick one of a few values,
send a stakeholder update, follow an export, see who to escalate to.

Widget ids are stable (tests drive them):

- ``CommandScreen`` (id ``command``): ``#command-text``; ``c`` copies.
- ``PromptScreen`` (id ``prompt``): ``#prompt-input``, ``#prompt-error``.
- ``ChoiceScreen`` (id ``choice``): ``#choices`` (an OptionList; option ids are the values).
- ``CommsScreen`` (id ``comms``): ``#comms-internal`` / ``#comms-external`` (TextAreas),
  ``#copy-internal``, ``#copy-external``, ``#post-internal``, ``#comms-status``.
- ``ExportScreen`` (id ``export``): ``#export-progress``, ``#export-status``,
  ``#export-paths``.
- ``EscalationScreen`` (id ``escalation``): ``#escalation-body``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    Input,
    LoadingIndicator,
    OptionList,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from tui.act.session import sentence
from tui.comms import Draft, drafts, post_to_slack
from tui.errors import CommsError, IncidentError
from tui.record.incident import Incident
from tui.runbook import (
    Escalation,
    EscalationLevel,
    format_duration,
)
from tui.screens.dialog import Dialog, dialog_css, while_shown

__all__ = [
    "ChoiceScreen",
    "CommandScreen",
    "CommsScreen",
    "EscalationScreen",
    "ExportScreen",
    "PromptScreen",
    "due_level",
]


# --------------------------------------------------------------------------- small modals


class CommandScreen(Dialog[None]):
    """A triage command, ready to copy (``c``: to the clipboard through the terminal)."""

    DEFAULT_CSS = dialog_css("CommandScreen", "CommandScreen #command-text { margin: 1 0; }")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("c", "copy", "Copy"),
    ]

    def __init__(self, title: str, command: str, description: str | None = None) -> None:
        super().__init__(id="command")
        self.heading = title
        self.command = command
        self.description = description

    def compose(self) -> ComposeResult:
        with Vertical(classes="box") as box:
            box.border_title = self.heading
            if self.description:
                yield Static(escape(self.description), classes="muted")
            yield Static(Text(self.command, style="bold"), id="command-text")
            yield Static("c copies it · Esc closes", classes="muted")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.command)
        self.notify("Command copied to the clipboard.")


class PromptScreen(Dialog[str | None]):
    """One line of text: Enter gives it, Escape gives None."""

    DEFAULT_CSS = dialog_css("PromptScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        *,
        placeholder: str = "",
        required: bool = True,
        help_text: str | None = None,
        value: str = "",
    ) -> None:
        super().__init__(id="prompt")
        self.heading = title
        self.placeholder = placeholder
        self.required = required
        self.help_text = help_text
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="box") as box:
            box.border_title = self.heading
            if self.help_text:
                yield Static(escape(self.help_text), classes="muted")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", classes="error")
            yield Static("Enter saves · Esc cancels", classes="muted")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = " ".join(event.value.split())
        if self.required and not text:
            self.query_one("#prompt-error", Static).update("Write something, or Esc to cancel.")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(Dialog[str | None]):
    """Pick one of a list (Enter), or Escape for none."""

    DEFAULT_CSS = dialog_css(
        "ChoiceScreen", "ChoiceScreen #choices { height: auto; max-height: 20; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        choices: Sequence[tuple[str, str | Text]],
        *,
        current: str | None = None,
        help_text: str | None = None,
    ) -> None:
        super().__init__(id="choice")
        self.heading = title
        self.choices = list(choices)
        self.current = current
        self.help_text = help_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="box") as box:
            box.border_title = self.heading
            if self.help_text:
                yield Static(escape(self.help_text), classes="muted")
            yield OptionList(
                *(Option(label, id=value) for value, label in self.choices), id="choices"
            )
            yield Static("Enter picks · Esc cancels", classes="muted")

    def on_mount(self) -> None:
        options = self.query_one("#choices", OptionList)
        values = [value for value, _ in self.choices]
        if self.current in values:
            options.highlighted = values.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected, "#choices")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------------------- comms


class CommsScreen(Dialog[None]):
    """The runbook's internal (Slack) and external (status page) updates, filled from the
    incident and editable; copy either (ctrl+y copies the one being edited), post the
    internal one to Slack."""

    DEFAULT_CSS = dialog_css(
        "CommsScreen",
        """
        CommsScreen > .box { width: 110; }
        CommsScreen TextArea { height: 9; }
        CommsScreen .draft-title { margin-top: 1; text-style: bold; }
        """,
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("ctrl+y", "copy_focused", "Copy", priority=True),
    ]

    def __init__(
        self,
        incident: Incident,
        now: datetime,
        webhook_url: str | None,
        *,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(id="comms")
        self.incident = incident
        self.drafts = {d.channel: d for d in drafts(incident, now)}
        self.webhook_url = webhook_url
        self.timeout = timeout

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="box") as box:
            box.border_title = "Stakeholder updates"
            if not self.drafts:
                yield Static("This runbook has no communication templates.")
            for channel, draft in self.drafts.items():
                where = "internal · Slack" if channel == "internal" else "external · status page"
                yield Static(f"{escape(draft.title)}  ({where})", classes="draft-title")
                yield TextArea(draft.text, id=f"comms-{channel}", soft_wrap=True)
                with Horizontal(classes="buttons"):
                    yield Button("Copy", id=f"copy-{channel}")
                    if channel == "internal":
                        yield Button(
                            "Post to Slack",
                            id="post-internal",
                            variant="primary",
                            disabled=not self.webhook_url,
                        )
            if self.drafts and not self.webhook_url:
                yield Static(
                    "No Slack webhook configured (slack.webhook_url): copy and paste instead.",
                    classes="muted",
                )
            yield Static("", id="comms-status")
            yield Static("ctrl+y copies the update being edited · Esc closes", classes="muted")

    def on_mount(self) -> None:
        areas = self.query(TextArea)
        if areas:
            areas.first().focus()

    def text_of(self, channel: str) -> str:
        return self.query_one(f"#comms-{channel}", TextArea).text

    def _status(self, text: str, error: bool = False) -> None:
        self.query_one("#comms-status", Static).update(
            Text(text, style="bold red" if error else "green")
        )

    def copy(self, channel: str) -> None:
        draft = self.drafts[channel]  # type: ignore[index]
        text = self.text_of(channel)
        self.app.copy_to_clipboard(text)
        try:
            self.incident.comms_copied(channel, title=draft.title, text=text)
        except IncidentError as error:
            self._status(sentence(error), error=True)
            return
        self._status(f"The {channel} update is on the clipboard.")

    def action_copy_focused(self) -> None:
        focused = self.focused
        channel = "internal"
        if isinstance(focused, TextArea) and focused.id:
            channel = focused.id.removeprefix("comms-")
        elif isinstance(focused, Button) and focused.id and focused.id.startswith("copy-"):
            channel = focused.id.removeprefix("copy-")
        if channel in self.drafts:
            self.copy(channel)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if button.startswith("copy-"):
            event.stop()
            self.copy(button.removeprefix("copy-"))
        elif button == "post-internal":
            event.stop()
            self.post()

    @work(exclusive=True, group="comms-post", exit_on_error=False)
    async def post(self) -> None:
        draft: Draft = self.drafts["internal"]
        text = self.text_of("internal")
        self._status("Posting to Slack…")
        try:
            await post_to_slack(self.webhook_url, text, timeout=self.timeout)
        except CommsError as error:
            self._status(str(error), error=True)
            return
        self.incident.comms_posted("internal", destination="Slack", title=draft.title, text=text)
        self._status("Posted to Slack.")


# --------------------------------------------------------------------------- export


class ExportScreen(Dialog[None]):
    """The export running, then the paths it wrote (or why it could not)."""

    DEFAULT_CSS = dialog_css("ExportScreen", "ExportScreen #export-progress { height: 3; }")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, out: str) -> None:
        super().__init__(id="export")
        self.out = out

    def compose(self) -> ComposeResult:
        with Vertical(classes="box") as box:
            box.border_title = "Export postmortem and evidence"
            yield Static(f"Into {escape(self.out)}", classes="muted")
            yield LoadingIndicator(id="export-progress")
            yield Static("Collecting logs and metrics…", id="export-status")
            yield Static("", id="export-paths")
            yield Static("Esc closes", classes="muted")

    @while_shown
    def finish(self, paths: list[str], notes: list[str]) -> None:
        if not self.is_mounted:
            return
        self.query_one("#export-progress").display = False
        self.query_one("#export-status", Static).update(Text("Exported.", style="bold green"))
        lines = "\n".join(paths + [f"⚠ {n}" for n in notes])
        self.query_one("#export-paths", Static).update(Text(lines))

    @while_shown
    def fail(self, message: str) -> None:
        if not self.is_mounted:
            return
        self.query_one("#export-progress").display = False
        self.query_one("#export-status", Static).update(Text(message, style="bold red"))


# --------------------------------------------------------------------------- escalation


def due_level(escalation: Escalation, elapsed: timedelta) -> EscalationLevel | None:
    """The escalation level due after ``elapsed`` since declaration (the latest one
    whose ``after`` has passed)."""
    due = None
    for level in sorted(escalation.levels, key=lambda lv: lv.after):
        if elapsed >= level.after:
            due = level
    return due


class EscalationScreen(Dialog[None]):
    """The runbook's escalation contacts and levels; the level due now highlighted."""

    DEFAULT_CSS = dialog_css("EscalationScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, escalation: Escalation, elapsed: timedelta) -> None:
        super().__init__(id="escalation")
        self.escalation = escalation
        self.elapsed = elapsed

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="box") as box:
            box.border_title = "Escalation"
            yield Static(self.render_body(), id="escalation-body")
            yield Static("Esc closes", classes="muted")

    def render_body(self) -> Table | Text:
        escalation = self.escalation
        if not escalation.levels and not escalation.contacts:
            return Text("This runbook names no escalation contacts or levels.")
        table = Table(box=None, expand=True, show_header=True, pad_edge=False)
        table.add_column("level")
        table.add_column("who")
        table.add_column("when")
        due = due_level(escalation, self.elapsed)
        for level in escalation.levels:
            when = f"from {format_duration(level.after)}"
            if level.until is not None:
                when += f" to {format_duration(level.until)}"
            now = level is due
            style = "bold reverse" if now else ""
            table.add_row(
                f"{'▶ ' if now else '  '}{level.level}",
                level.contact + ("  ← due now" if now else ""),
                when,
                style=style,
            )
        for contact in escalation.contacts:
            ways = [
                w
                for w in (
                    contact.slack,
                    contact.phone,
                    contact.email,
                    contact.url,
                )
                if w
            ]
            who = contact.name or contact.group
            if contact.role:
                who += f" ({contact.role})"
            text = " · ".join(ways)
            if contact.note:
                text += f" — {contact.note}"
            table.add_row("", who, text, style="dim" if not ways else "")
        return table
