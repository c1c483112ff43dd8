"""The modal screens the responder acts through: confirm a remediation, follow it, copy a
command, write a note, pick a severity or status, send an update, export, escalate, and the
guided gradual rollout.

Widget ids are stable (tests drive them):

- ``ConfirmScreen`` (id ``confirm``): ``#secret-value`` (password), ``#param-<name>``,
  ``#inputs-error``, ``#preview`` (button: run the dry run after the inputs),
  ``#confirm-body`` (what, where, diff, warnings, revert), ``#confirm-error`` (a refusal
  and its hint), ``#confirm-name`` (destructive only: type the deployment's name),
  ``#cancel``, ``#apply``. Dismisses with the :class:`~tui.act.plan.Plan` to apply,
  or None.
- ``RemediationScreen`` (id ``remediation``): ``#run-stage``, ``#rollout-bar``,
  ``#rollout-status``, ``#run-result``, ``#run-hint``, ``#close``, ``#revert``.
  Dismisses with ``"revert"`` or None (closing it while it runs leaves it running).
- ``CommandScreen`` (id ``command``): ``#command-text``; ``c`` copies.
- ``PromptScreen`` (id ``prompt``): ``#prompt-input``, ``#prompt-error``.
- ``ChoiceScreen`` (id ``choice``): ``#choices`` (an OptionList; option ids are the values).
- ``CommsScreen`` (id ``comms``): ``#comms-internal`` / ``#comms-external`` (TextAreas),
  ``#copy-internal``, ``#copy-external``, ``#post-internal``, ``#comms-status``.
- ``ExportScreen`` (id ``export``): ``#export-progress``, ``#export-status``,
  ``#export-paths``.
- ``EscalationScreen`` (id ``escalation``): ``#escalation-body``.
- ``RolloutGuideScreen`` (id ``rollout-guide``): ``#guide-steps``, ``#guide-now``,
  ``#guide-countdown``, ``#guide-signals``, ``#continue``, ``#undo``, ``#stop``.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import (
    Button,
    Input,
    LoadingIndicator,
    OptionList,
    ProgressBar,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from tui.act.guide import GuideStep
from tui.act.plan import DryRun, Plan, Progress
from tui.act.session import Preview
from tui.comms import Draft, drafts, post_to_slack
from tui.errors import CommsError, IncidentError
from tui.record.incident import Incident
from tui.runbook import (
    Escalation,
    EscalationLevel,
    Remediation,
    RotateSecret,
    SetImage,
    format_duration,
)
from tui.screens.dialog import Dialog

__all__ = [
    "ChoiceScreen",
    "CommandScreen",
    "CommsScreen",
    "ConfirmScreen",
    "EscalationScreen",
    "ExportScreen",
    "PromptScreen",
    "RemediationScreen",
    "RolloutGuideScreen",
    "due_level",
]

_MODAL_CSS = """
    {name} {{
        align: center middle;
        & > .box {{
            width: 96; max-width: 100%; height: auto; max-height: 90%;
            border: round $accent; background: $surface; padding: 0 1;
        }}
        & .buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
        & .buttons Button {{ margin-left: 1; }}
        & .error {{ color: $text-error; }}
        & .hint {{ color: $text-warning; }}
        & .muted {{ color: $text-muted; }}
    }}
"""


def _css(name: str, extra: str = "") -> str:
    return _MODAL_CSS.format(name=name) + extra


_Method = TypeVar("_Method", bound=Callable[..., None])


def _while_shown(method: _Method) -> _Method:
    """For updates a worker sends to a screen that may not be shown yet or may already be
    closed: one that comes while the screen is still mounting (its ``on_mount`` may have run
    already) waits in the screen's queue until it is; once the screen is gone (its widgets
    removed, its queue closed), the update is dropped."""

    @functools.wraps(method)
    def update(self: Any, *args: Any, **kwargs: Any) -> None:
        if not self.is_mounted:
            # processed after mounting ends; refused (dropped) by a closed screen
            self.call_later(update, self, *args, **kwargs)
            return
        with contextlib.suppress(NoMatches):
            method(self, *args, **kwargs)

    return update  # type: ignore[return-value]


# --------------------------------------------------------------------------- confirm


Prepare = Callable[[dict[str, str], str | None], Awaitable[Preview]]
"""Given the responder's params and (for rotate_secret) the new secret value, make the plan
and run the dry run."""


def _asks_image(remediation: Remediation) -> bool:
    return (
        isinstance(remediation, SetImage)
        and remediation.image is None
        and all(p.name != "image" for p in remediation.params)
    )


def needs_inputs(remediation: Remediation) -> bool:
    """Whether the responder is asked for values before the dry run: the remediation's
    params, a rotated secret's new value, or the image a set_image leaves open."""
    return (
        bool(remediation.params)
        or isinstance(remediation, RotateSecret)
        or _asks_image(remediation)
    )


class ConfirmScreen(Dialog[Plan | None]):
    """Preview a remediation and confirm it: ``y`` (or Apply) for a non-destructive one; a
    destructive one only once the deployment's name is typed exactly. Focus starts on Cancel."""

    DEFAULT_CSS = _css(
        "ConfirmScreen",
        """
        ConfirmScreen #confirm-body { height: auto; }
        ConfirmScreen #confirm-inputs { height: auto; }
        ConfirmScreen #confirm-name { display: none; }
        ConfirmScreen.-destructive.-ready #confirm-name { display: block; }
        ConfirmScreen #confirm-loading { height: 1; display: none; }
        ConfirmScreen.-loading #confirm-loading { display: block; }
        """,
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "apply_key", "Apply", tooltip="Apply (non-destructive remediations)"),
    ]

    def __init__(
        self,
        remediation: Remediation,
        deployment: str,
        prepare: Prepare,
        *,
        heading: str | None = None,
        ask_inputs: bool | None = None,
    ) -> None:
        super().__init__(id="confirm")
        self.remediation = remediation
        self.deployment = deployment
        self.prepare = prepare
        self.heading = heading or remediation.title
        self.ask_inputs = needs_inputs(remediation) if ask_inputs is None else ask_inputs
        self.preview: Preview | None = None
        self.destructive = remediation.destructive

    def compose(self) -> ComposeResult:
        with Vertical(classes="box") as box:
            box.border_title = ("⚠ " if self.destructive else "") + self.heading
            if self.remediation.description:
                yield Static(escape(self.remediation.description), classes="muted")
            if self.ask_inputs:
                with Vertical(id="confirm-inputs"):
                    if isinstance(self.remediation, RotateSecret):
                        yield Static("New value (never shown, never recorded):")
                        yield Input(password=True, id="secret-value", placeholder="new value")
                    if _asks_image(self.remediation):
                        yield Static("New image (repository:tag):")
                        yield Input(id="param-image", placeholder="registry/app:1.2.3")
                    for param in self.remediation.params:
                        yield Static(escape(param.prompt))
                        yield Input(
                            password=param.secret,
                            id=f"param-{param.name}",
                            placeholder=param.pattern or param.name,
                        )
                    yield Static("", id="inputs-error", classes="error")
                    with Horizontal(classes="buttons"):
                        yield Button("Preview (dry run)", id="preview")
            yield Static("Asking the API server for a dry run…", id="confirm-loading")
            yield Static("", id="confirm-body")
            yield Static("", id="confirm-error", classes="error")
            yield Input(
                placeholder=f"type {self.deployment} to apply", id="confirm-name", disabled=True
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(
                    "Apply", id="apply", variant="error" if self.destructive else "success"
                )

    def on_mount(self) -> None:
        self.set_class(self.destructive, "-destructive")
        self.query_one("#apply", Button).disabled = True
        self.query_one("#cancel", Button).focus()
        if self.ask_inputs:
            first = self.query("#confirm-inputs Input").first(Input)
            first.focus()
        else:
            self.run_preview({}, None)

    # inputs --------------------------------------------------------------------------

    def _inputs(self) -> tuple[dict[str, str], str | None] | None:
        error = self.query_one("#inputs-error", Static)
        params: dict[str, str] = {}
        for param in self.remediation.params:
            value = self.query_one(f"#param-{param.name}", Input).value.strip()
            if not value:
                error.update(f"{escape(param.prompt)}: a value is needed.")
                return None
            if param.pattern and not re.fullmatch(param.pattern, value):
                error.update(
                    f"{escape(param.prompt)}: the value does not match {escape(param.pattern)}."
                )
                return None
            params[param.name] = value
        if _asks_image(self.remediation):
            image = self.query_one("#param-image", Input).value.strip()
            if not image or " " in image:
                error.update("Give the new image, such as registry/app:1.2.3.")
                return None
            params["image"] = image
        secret = None
        if isinstance(self.remediation, RotateSecret):
            secret = self.query_one("#secret-value", Input).value
            if not secret.strip():
                error.update("The new value is empty.")
                return None
        error.update("")
        return params, secret

    @on(Button.Pressed, "#preview")
    @on(Input.Submitted, "#confirm-inputs Input")
    def _inputs_done(self, event: Button.Pressed | Input.Submitted) -> None:
        event.stop()
        given = self._inputs()
        if given is None:
            return
        for field in self.query("#confirm-inputs Input"):
            field.disabled = True
        self.query_one("#preview", Button).disabled = True
        self.run_preview(*given)

    # the dry run ---------------------------------------------------------------------

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def run_preview(self, params: dict[str, str], secret: str | None) -> None:
        self.add_class("-loading")
        try:
            preview = await self.prepare(params, secret)
        except Exception as error:
            preview = Preview(error=_sentence(error))
        self.remove_class("-loading")
        self.show_preview(preview)

    def show_preview(self, preview: Preview) -> None:
        self.preview = preview
        body = self.query_one("#confirm-body", Static)
        if preview.plan is not None:
            body.update(describe(preview.plan, preview.dry_run))
        failure = self.query_one("#confirm-error", Static)
        if preview.error:
            text = Text(preview.error, style="bold")
            if preview.hint:
                text.append(f"\nHint: {preview.hint}", style="")
            failure.update(text)
            self.query_one("#cancel", Button).label = "Close"
            self.query_one("#cancel", Button).focus()
            return
        failure.update("")
        self.add_class("-ready")
        name = self.query_one("#confirm-name", Input)
        if self.destructive:
            name.disabled = False
        else:
            self.query_one("#apply", Button).disabled = False
        self.query_one("#cancel", Button).focus()

    # deciding ------------------------------------------------------------------------

    def _may_apply(self) -> bool:
        if self.preview is None or not self.preview.ok:
            return False
        if self.destructive:
            return self.query_one("#confirm-name", Input).value == self.deployment
        return True

    @on(Input.Changed, "#confirm-name")
    def _name_typed(self, event: Input.Changed) -> None:
        self.query_one("#apply", Button).disabled = not self._may_apply()

    @on(Input.Submitted, "#confirm-name")
    def _name_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._may_apply():
            self._apply()
        else:
            self.notify(f"Type {self.deployment} exactly to apply.", severity="warning")

    def action_apply_key(self) -> None:
        if self.destructive:
            self.notify(
                f"A destructive change: type {self.deployment} in the box, then Enter.",
                severity="warning",
            )
            return
        if self._may_apply():
            self._apply()

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self._may_apply():
            self._apply()

    def _apply(self) -> None:
        assert self.preview is not None and self.preview.plan is not None
        self.dismiss(self.preview.plan)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def describe(plan: Plan, dry_run: DryRun | None) -> Text:
    """What will change, where, the server's diff and warnings, and how it is undone."""
    text = Text()
    text.append("What   ", style="bold")
    text.append(plan.summary + "\n")
    text.append("Where  ", style="bold")
    text.append(
        f"context {plan.context} · namespace {plan.namespace} · deployment {plan.deployment}\n"
    )
    if plan.command:
        text.append("Same as ", style="bold")
        text.append(plan.command + "\n", style="dim")
    if dry_run is not None:
        checked = "server-side dry run" if dry_run.server_checked else "preview (no dry run)"
        text.append(f"\n{checked}:\n", style="bold")
        for change in dry_run.changes or []:
            text.append(f"  {change}\n", style="cyan")
        if not dry_run.changes:
            text.append("  no change\n", style="dim")
        for warning in dry_run.warnings:
            text.append(f"  ⚠ {warning}\n", style="yellow")
    text.append("\n")
    if plan.destructive:
        text.append(
            f"DESTRUCTIVE: type {plan.deployment} below, then Enter, to apply.\n",
            style="bold red",
        )
    else:
        text.append("Not destructive: y or Apply applies it.\n", style="green")
    text.append("Revert ", style="bold")
    text.append(plan.revert or "none defined in the runbook")
    return text


def _sentence(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if text.endswith((".", "!", "?")) else text + "."


# --------------------------------------------------------------------------- progress


class RemediationScreen(Dialog[str | None]):
    """Follows an applied remediation: the rollout's progress, then the result, the
    runbook's hint on failure, and Revert where the runbook defines one."""

    DEFAULT_CSS = _css(
        "RemediationScreen",
        """
        RemediationScreen #rollout-bar { margin: 1 0; }
        RemediationScreen #revert { display: none; }
        RemediationScreen.-revertable #revert { display: block; }
        RemediationScreen #retry { display: none; }
        RemediationScreen.-retryable #retry { display: block; }
        """,
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="Close; a running remediation goes on"),
    ]

    def __init__(self, title: str, target: str) -> None:
        super().__init__(id="remediation")
        self.heading = title
        self.target = target
        self.done = False
        self.ok: bool | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="box") as box:
            box.border_title = self.heading
            yield Static(escape(self.target), classes="muted")
            yield Static("Applying…", id="run-stage")
            yield ProgressBar(total=None, show_eta=False, id="rollout-bar")
            yield Static("", id="rollout-status")
            yield Static("", id="run-result")
            yield Static("", id="run-hint", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Revert", id="revert", variant="warning")
                yield Button("New dry run", id="retry", variant="warning")
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @_while_shown
    def stage(self, text: str) -> None:
        self.query_one("#run-stage", Static).update(text)

    @_while_shown
    def progress(self, progress: Progress) -> None:
        bar = self.query_one("#rollout-bar", ProgressBar)
        bar.update(total=max(progress.desired, 1), progress=min(progress.updated, progress.desired))
        self.query_one("#rollout-status", Static).update(
            f"updated {progress.updated}/{progress.desired} · ready {progress.ready} · "
            f"available {progress.available} · old {progress.old} — {progress.message}"
        )

    def finish(
        self,
        ok: bool,
        message: str,
        hint: str | None,
        can_revert: bool,
        *,
        can_retry: bool = False,
        stage: str | None = None,
    ) -> None:
        self.done = True
        self.ok = ok
        self._show_result(ok, message, hint, can_revert, can_retry, stage)

    @_while_shown
    def _show_result(
        self,
        ok: bool,
        message: str,
        hint: str | None,
        can_revert: bool,
        can_retry: bool,
        stage: str | None,
    ) -> None:
        self.query_one("#run-stage", Static).update(stage or ("Done." if ok else "Failed."))
        result = self.query_one("#run-result", Static)
        result.update(Text(("✔ " if ok else "✖ ") + message, style="green" if ok else "red"))
        self.query_one("#run-hint", Static).update(f"Hint: {hint}" if hint else "")
        self.set_class(can_revert, "-revertable")
        self.set_class(can_retry, "-retryable")
        if can_retry:
            self.query_one("#retry", Button).focus()

    @on(Button.Pressed, "#revert")
    def _revert(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss("revert")

    @on(Button.Pressed, "#retry")
    def _retry(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss("retry")

    @on(Button.Pressed, "#close")
    def _close(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        if not self.done:
            self.notify("The remediation goes on; its result lands in the timeline.")
        self.dismiss(None)


# --------------------------------------------------------------------------- small modals


class CommandScreen(Dialog[None]):
    """A triage command, ready to copy (``c``: to the clipboard through the terminal)."""

    DEFAULT_CSS = _css("CommandScreen", "CommandScreen #command-text { margin: 1 0; }")
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

    DEFAULT_CSS = _css("PromptScreen")
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

    DEFAULT_CSS = _css("ChoiceScreen", "ChoiceScreen #choices { height: auto; max-height: 20; }")
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

    DEFAULT_CSS = _css(
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
            self._status(_sentence(error), error=True)
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

    DEFAULT_CSS = _css("ExportScreen", "ExportScreen #export-progress { height: 3; }")
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

    @_while_shown
    def finish(self, paths: list[str], notes: list[str]) -> None:
        if not self.is_mounted:
            return
        self.query_one("#export-progress").display = False
        self.query_one("#export-status", Static).update(Text("Exported.", style="bold green"))
        lines = "\n".join(paths + [f"⚠ {n}" for n in notes])
        self.query_one("#export-paths", Static).update(Text(lines))

    @_while_shown
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

    DEFAULT_CSS = _css("EscalationScreen")
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


# --------------------------------------------------------------------------- guided rollout


class RolloutGuideScreen(Dialog[None]):
    """Shows where a guided rollout stands; the caller's worker drives it and awaits the
    responder's choices through :meth:`choice`."""

    DEFAULT_CSS = _css(
        "RolloutGuideScreen",
        """
        RolloutGuideScreen #guide-countdown { text-style: bold; }
        RolloutGuideScreen #continue, RolloutGuideScreen #undo { display: none; }
        RolloutGuideScreen.-asking #continue, RolloutGuideScreen.-asking #undo {
            display: block;
        }
        """,
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "Stop the guide"),
    ]

    def __init__(self, title: str, steps: list[GuideStep]) -> None:
        super().__init__(id="rollout-guide")
        self.heading = title
        self.steps = steps
        self.current = -1
        self._waiter: Any = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="box") as box:
            box.border_title = self.heading
            yield Static("", id="guide-steps")
            yield Static("", id="guide-now")
            yield Static("", id="guide-countdown")
            yield Static("", id="guide-signals")
            with Horizontal(classes="buttons"):
                yield Button("Continue", id="continue", variant="success")
                yield Button("Undo (roll back)", id="undo", variant="error")
                yield Button("Stop", id="stop")

    def on_mount(self) -> None:
        self.query_one("#stop", Button).focus()
        self.show_steps()

    @_while_shown
    def show_steps(self, done: int | None = None) -> None:
        if not self.is_mounted:
            return
        text = Text()
        for index, step in enumerate(self.steps):
            mark = "✔" if index < self.current else ("▶" if index == self.current else " ")
            text.append(f"{mark} {step.text}\n", style="bold" if index == self.current else "")
        self.query_one("#guide-steps", Static).update(text)

    def at(self, index: int, what: str) -> None:
        self.current = index
        self._show_at(what)

    @_while_shown
    def _show_at(self, what: str) -> None:
        self.show_steps()
        self.query_one("#guide-now", Static).update(Text(what, style="bold"))
        self.query_one("#guide-countdown", Static).update("")
        self.query_one("#guide-signals", Static).update("")

    @_while_shown
    def countdown(self, left: timedelta, signals: Text) -> None:
        if not self.is_mounted:
            return
        seconds = max(0, int(left.total_seconds()))
        self.query_one("#guide-countdown", Static).update(
            f"{seconds // 60:d}:{seconds % 60:02d} left — Continue to go on early, "
            "Undo to roll back"
        )
        self.query_one("#guide-signals", Static).update(signals)

    def ask(self) -> Any:
        """Show Continue/Undo and return a future resolved with the responder's choice."""
        import asyncio

        self._waiter = asyncio.get_running_loop().create_future()
        self.add_class("-asking")
        if self.is_mounted:
            self.query_one("#continue", Button).focus()
        return self._waiter

    def _answer(self, choice: str) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(choice)
        self.remove_class("-asking")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._answer(event.button.id or "stop")
        if event.button.id == "stop":
            self.dismiss(None)

    def action_stop(self) -> None:
        self._answer("stop")
        self.dismiss(None)

    def finish(self, text: str) -> None:
        self.current = len(self.steps)
        self._answer("stop")
        self._show_end(text)

    @_while_shown
    def _show_end(self, text: str) -> None:
        self.show_steps()
        self.query_one("#guide-now", Static).update(Text(text, style="bold"))
        self.query_one("#guide-countdown", Static).update("Esc closes")
