"""The decision-tree pane: the runbook's questions with their live answers and evidence,
the suggested path marked, and the reached conclusion's remediations ready to pick."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui.decision import Answer, DecisionPath
from tui.inert import inert
from tui.runbook import DecisionNode, Runbook
from widgets.steady_tree import SteadyTree

__all__ = ["DecisionTreeView", "Step"]

PATH_MARKER = "▶ "
StepKind = Literal["question", "leaf", "group", "remediation", "empty"]


@dataclass
class Step:
    """What one line of the tree stands for (a tree node's ``data``)."""

    kind: StepKind
    text: str
    node_id: str | None = None
    """The decision node, for questions and leaves."""
    branch: Literal["yes", "no"] | None = None
    """The answer of the parent question that leads here."""
    remediation_id: str | None = None
    destructive: bool = False
    answer: Answer | None = None
    """The current answer, for a question on the suggested path."""
    on_path: bool = False


class DecisionTreeView(SteadyTree[Step]):
    """The runbook's decision tree, built once; :meth:`show` marks the suggested path."""

    DEFAULT_CSS = """
    DecisionTreeView {
        height: 1fr;
        & > .decision-tree--path { color: $accent; text-style: bold; }
        & > .decision-tree--branch { color: $text-muted; }
        & > .decision-tree--yes { color: $text-success; text-style: bold; }
        & > .decision-tree--no { color: $text-error; text-style: bold; }
        & > .decision-tree--unknown { color: $text-warning; text-style: bold; }
        & > .decision-tree--evidence { color: $text-muted; }
        & > .decision-tree--leaf { text-style: italic; }
        & > .decision-tree--group { color: $text-secondary; text-style: bold; }
        & > .decision-tree--destructive { color: $text-error; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *Tree.COMPONENT_CLASSES,
        "decision-tree--path",
        "decision-tree--branch",
        "decision-tree--yes",
        "decision-tree--no",
        "decision-tree--unknown",
        "decision-tree--evidence",
        "decision-tree--leaf",
        "decision-tree--group",
        "decision-tree--destructive",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", tooltip="Answer the question under the cursor: yes"),
        Binding("n", "answer(False)", "No", tooltip="Answer the question under the cursor: no"),
        Binding("f", "follow", "Suggested", tooltip="Put the cursor back on the suggestion"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class AnswerChosen(Message):
        """The responder answered a question with ``y`` or ``n``."""

        def __init__(
            self,
            view: DecisionTreeView,
            node_id: str,
            value: bool,
            shown: Answer | None = None,
        ) -> None:
            super().__init__()
            self.view = view
            self.node_id = node_id
            self.value = value
            self.shown = shown
            """The answer shown when the responder answered: what the signals said, and
            the predicate and reading it rests on."""

        @property
        def live_value(self) -> bool | None:
            return self.shown.live_answer if self.shown is not None else None

        @property
        def evidence(self) -> tuple[str, ...]:
            return self.shown.evidence if self.shown is not None else ()
            """What the signals alone answer (None when they cannot)."""

        @property
        def control(self) -> DecisionTreeView:
            return self.view

    class RemediationChosen(Message):
        """The responder pressed Enter on one of the conclusion's remediations."""

        def __init__(self, view: DecisionTreeView, remediation_id: str) -> None:
            super().__init__()
            self.view = view
            self.remediation_id = remediation_id

        @property
        def control(self) -> DecisionTreeView:
            return self.view

    def __init__(
        self,
        runbook: Runbook,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(Text(inert(runbook.title)), name=name, id=id, classes=classes)
        self.runbook = runbook
        self.set_reactive(Tree.show_root, False)
        self.set_reactive(Tree.auto_expand, False)
        self.set_reactive(Tree.guide_depth, 3)
        self.path: DecisionPath | None = None
        self._groups: list[tuple[str | None, list[str]]] = []
        self._reached: TreeNode[Step] | None = None
        self._auto_node: TreeNode[Step] | None = None
        """Where :meth:`show` last put the cursor; the cursor elsewhere means the
        responder moved it, and it then stays where they put it."""
        self._build_tree()

    # ------------------------------------------------------------------ building

    def _build_tree(self) -> None:
        tree = self.runbook.decision_tree
        if tree is None:
            self.root.add_leaf(Text("This runbook has no decision tree."), Step("empty", ""))
            return
        self._add(self.root, tree.node(tree.root), None, ())

    def _add(
        self,
        parent: TreeNode[Step],
        node: DecisionNode,
        branch: Literal["yes", "no"] | None,
        seen: tuple[str, ...],
    ) -> None:
        tree = self.runbook.decision_tree
        assert tree is not None
        if node.is_leaf:
            step = Step("leaf", node.conclusion or "", node.id, branch)
            parent.add(Text(step.text), step, expand=True, allow_expand=False)
            return
        step = Step("question", node.question or "", node.id, branch)
        here = parent.add(Text(step.text), step, expand=True, allow_expand=False)
        if node.id in seen:
            return
        branches: tuple[tuple[Literal["yes", "no"], str | None], ...] = (
            ("yes", node.yes),
            ("no", node.no),
        )
        for answer, child in branches:
            if child is not None:
                self._add(here, tree.node(child), answer, (*seen, node.id))

    @property
    def top(self) -> TreeNode[Step] | None:
        """The root question."""
        children = self.root.children
        return children[0] if children else None

    # ------------------------------------------------------------------ data in

    def show(self, path: DecisionPath, groups: list[tuple[str | None, list[str]]]) -> bool:
        """Mark the suggested path with its answers and list the reached conclusion's
        remediations, group by group in the order given. Returns whether anything changed."""
        if path == self.path and groups == self._groups:
            return False
        self.path = path
        for node in self._tree_nodes.values():
            if node.data is not None and node.data.kind in ("question", "leaf"):
                node.data.on_path = False
                node.data.answer = None
        reached = None
        current = self.top
        for answer in path.answers:
            if current is None or current.data is None or current.data.node_id != answer.node:
                break
            current.data.on_path = True
            current.data.answer = answer
            if answer.answer is None:
                current = None
                break
            branch = "yes" if answer.answer else "no"
            current = next(
                (c for c in current.children if c.data and c.data.branch == branch), None
            )
        leaf_id = path.leaf.id if path.leaf is not None else None
        if current is not None and current.data is not None and current.data.node_id == leaf_id:
            current.data.on_path = True
            reached = current
        self._show_remediations(reached, groups)
        if self.is_mounted:
            self._invalidate()
            self._follow_suggestion()
        return True

    def on_mount(self) -> None:
        if self.path is not None:
            self.call_after_refresh(self._follow_suggestion)

    def _show_remediations(
        self, reached: TreeNode[Step] | None, groups: list[tuple[str | None, list[str]]]
    ) -> None:
        if reached is self._reached and groups == self._groups:
            return
        if self._reached is not None:
            self._reached.remove_children()
        self._reached = reached
        self._groups = [(category, list(ids)) for category, ids in groups]
        if reached is None:
            return
        titles = {c.id: c.title for c in self.runbook.categories}
        bare = len(groups) == 1 and groups[0][0] is None
        for category, ids in groups:
            if bare:
                parent = reached
            else:
                label = titles.get(category, category) if category else "Other remediations"
                step = Step("group", label or "")
                parent = reached.add(Text(step.text), step, expand=True, allow_expand=False)
            for remediation_id in ids:
                try:
                    remediation = self.runbook.remediation(remediation_id)
                    title, destructive = remediation.title, remediation.destructive
                except KeyError:
                    title, destructive = remediation_id, False
                step = Step("remediation", title, remediation_id=remediation_id)
                step.destructive = destructive
                parent.add_leaf(Text(title), step)

    def suggested_node(self) -> TreeNode[Step] | None:
        """The reached conclusion, or the unanswered question the path stops at."""
        if self._reached is not None:
            return self._reached
        for node in self._tree_nodes.values():
            step = node.data
            if step is not None and step.on_path and step.answer and step.answer.answer is None:
                return node
        return None

    def _follow_suggestion(self) -> None:
        cursor = self.cursor_node
        if cursor is not None and cursor is not self._auto_node:
            return
        self.action_follow()

    def action_follow(self) -> None:
        """Put the cursor on the suggestion (and let it follow the suggestion again)."""
        target = self.suggested_node()
        if target is None:
            return
        self._tree_lines  # noqa: B018 - lays the lines out so the target has its line
        self._auto_node = target
        self.move_cursor(target)

    # ------------------------------------------------------------------ keys

    def _question_under_cursor(self) -> Step | None:
        node = self.cursor_node
        if node is None or node.data is None or node.data.kind != "question":
            return None
        return node.data

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer":
            return True if self._question_under_cursor() is not None else None
        return True

    def watch_cursor_line(self, previous_line: int, line: int) -> None:
        super().watch_cursor_line(previous_line, line)
        self.refresh_bindings()

    def action_answer(self, value: bool) -> None:
        step = self._question_under_cursor()
        if step is None or step.node_id is None:
            return
        self.post_message(self.AnswerChosen(self, step.node_id, value, step.answer))

    def action_select_cursor(self) -> None:
        node = self.cursor_node
        if node is not None and node.data is not None and node.data.remediation_id:
            self.post_message(self.RemediationChosen(self, node.data.remediation_id))
            return
        super().action_select_cursor()

    # ------------------------------------------------------------------ rendering

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(
            f"decision-tree--{name}", partial=True, default=Style()
        )

    def _label(self, step: Step) -> Text:
        text = Text(no_wrap=True, end="")
        text.append(PATH_MARKER if step.on_path else " " * len(PATH_MARKER))
        if step.branch is not None:
            text.append(f"{step.branch.upper()} → ", self._style("branch"))
        if step.kind == "question":
            text.append(inert(step.text))
            if step.answer is not None:
                text.append("  ")
                text.append_text(self._answer(step.answer))
        elif step.kind == "leaf":
            text.append("◆ " + inert(step.text), self._style("leaf"))
        elif step.kind == "group":
            text.append(inert(step.text), self._style("group"))
        elif step.kind == "remediation":
            text.append("⚙ " + inert(step.text))
            if step.destructive:
                text.append("  destructive", self._style("destructive"))
        else:
            text.append(inert(step.text), self._style("evidence"))
        return text

    def _answer(self, answer: Answer) -> Text:
        text = Text()
        if answer.answer is None:
            text.append("?", self._style("unknown"))
        else:
            said = "yes" if answer.answer else "no"
            text.append(said, self._style(said))
            if answer.by_person:
                text.append(" (you)", self._style(said))
                if answer.live_answer is not None and answer.live_answer != answer.answer:
                    signals = "yes" if answer.live_answer else "no"
                    text.append(f", signals say {signals}", self._style("evidence"))
        if answer.evidence:
            text.append(" — " + inert("; ".join(answer.evidence)), self._style("evidence"))
        return text

    def render_label(self, node: TreeNode[Step], base_style: Style, style: Style) -> Text:
        step = node.data
        if step is None:
            return super().render_label(node, base_style, style)
        label = self._label(step)
        if step.on_path:
            label.stylize_before(self._style("path"))
        label.stylize(style)
        return label
