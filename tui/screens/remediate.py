"""The dialogs of a remediation: confirm it (inputs, the server's dry run, the typed name of
a destructive one), follow it (rollout progress, the result, revert), and the guided
gradual rollout.

Widget ids are stable (tests drive them):

- ``ConfirmScreen`` (id ``confirm``): ``#secret-value`` (password), ``#param-<name>``,
  ``#confirm-note`` (not the suggested fix), ``#inputs-error``, ``#preview`` (button:
  run the dry run after the inputs),
  ``#confirm-body`` (what, where, diff, warnings, revert), ``#confirm-error`` (a refusal
  and its hint), ``#confirm-name`` (destructive only: type the deployment's name),
  ``#cancel``, ``#apply``. Dismisses with the :class:`~tui.act.plan.Plan` to apply,
  or None.
- ``RemediationScreen`` (id ``remediation``): ``#run-stage``, ``#rollout-bar``,
  ``#rollout-status``, ``#watch-status`` (the signals judged after the rollout),
  ``#run-result``, ``#run-hint``, ``#close``, ``#revert`` (also ``v``).
  Dismisses with ``"revert"`` or None (closing it while it runs leaves it running).
- ``RolloutGuideScreen`` (id ``rollout-guide``): ``#guide-steps``, ``#guide-now``,
  ``#guide-countdown``, ``#guide-signals``, ``#continue``, ``#undo``, ``#stop``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    Input,
    ProgressBar,
    Static,
)

from tui.act.guide import GuideStep
from tui.act.judge import Verdict
from tui.act.plan import DryRun, Plan, Progress
from tui.act.session import Preview, sentence
from tui.inert import inert
from tui.runbook import Remediation, RotateSecret, SetImage, format_duration
from tui.screens.dialog import Dialog, dialog_css, while_shown

__all__ = ["ConfirmScreen", "RemediationScreen", "RolloutGuideScreen", "describe", "needs_inputs"]


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

    DEFAULT_CSS = dialog_css(
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
        note: str | None = None,
    ) -> None:
        super().__init__(id="confirm")
        self.note = note
        """Said before the dry run: e.g. that this is not the fix the signals suggest."""
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
            if self.note:
                yield Static(Text("⚠ " + inert(self.note)), id="confirm-note", classes="hint")
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
            preview = Preview(error=sentence(error))
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


# --------------------------------------------------------------------------- progress


class RemediationScreen(Dialog[str | None]):
    """Follows an applied remediation: the rollout's progress, then the result, the
    runbook's hint on failure, and Revert where the runbook defines one."""

    DEFAULT_CSS = dialog_css(
        "RemediationScreen",
        """
        RemediationScreen #rollout-bar { margin: 1 0; }
        RemediationScreen #revert { display: none; }
        RemediationScreen.-revertable #revert { display: block; }
        RemediationScreen #retry { display: none; }
        RemediationScreen #watch-status { display: none; }
        RemediationScreen.-watching #watch-status { display: block; }
        RemediationScreen.-retryable #retry { display: block; }
        """,
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="Close; a running remediation goes on"),
        Binding("v", "revert", "Revert", tooltip="Undo it the runbook's way"),
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
            yield Static("", id="watch-status")
            yield Static("", id="run-result")
            yield Static("", id="run-hint", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Revert", id="revert", variant="warning")
                yield Button("New dry run", id="retry", variant="warning")
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @while_shown
    def stage(self, text: str) -> None:
        self.query_one("#run-stage", Static).update(text)

    @while_shown
    def watching(self, text: str, can_revert: bool) -> None:
        """Rolled out: the watch of its signals begins; Revert is offered meanwhile."""
        self.query_one("#run-stage", Static).update(text)
        self.add_class("-watching")
        self.set_class(can_revert, "-revertable")

    @while_shown
    def verdict(self, verdict: Verdict) -> None:
        """Where the watch stands: each signal, and how long it has been clear."""
        text = Text()
        for state in verdict.signals:
            mark, style = {True: ("✔", "green"), False: ("✖", "red"), None: ("?", "dim")}[
                state.recovered
            ]
            text.append(f"{mark} {state.evidence}\n", style=style)
        if not verdict.done:
            text.append(
                f"clear for {format_duration(_whole(verdict.clear_for))}"
                f" · judged within {format_duration(_whole(verdict.left))}",
                style="dim",
            )
        self.query_one("#watch-status", Static).update(text)

    @while_shown
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

    @while_shown
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

    def action_revert(self) -> None:
        if self.has_class("-revertable"):
            self.dismiss("revert")

    def action_close(self) -> None:
        if not self.done:
            self.notify("The remediation goes on; its result lands in the timeline.")
        self.dismiss(None)


def _whole(value: timedelta) -> timedelta:
    return timedelta(seconds=int(value.total_seconds()))


# --------------------------------------------------------------------------- guided rollout


class RolloutGuideScreen(Dialog[None]):
    """Shows where a guided rollout stands; the caller's worker drives it and awaits the
    responder's choices through :meth:`choice`."""

    DEFAULT_CSS = dialog_css(
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

    @while_shown
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

    @while_shown
    def _show_at(self, what: str) -> None:
        self.show_steps()
        self.query_one("#guide-now", Static).update(Text(what, style="bold"))
        self.query_one("#guide-countdown", Static).update("")
        self.query_one("#guide-signals", Static).update("")

    @while_shown
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

    @while_shown
    def _show_end(self, text: str) -> None:
        self.show_steps()
        self.query_one("#guide-now", Static).update(Text(text, style="bold"))
        self.query_one("#guide-countdown", Static).update("Esc closes")
