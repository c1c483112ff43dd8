"""`incident-tui runbooks list|show|validate`, user runbook folders, and the runbook guide."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel

from runbooks import BUNDLED_DIR
from tui.cli import main
from tui.runbook import Runbook, load_runbook

REPO = Path(__file__).resolve().parents[1]
BUNDLED_IDS = ["clay", "clay-prod-checklist", "clerk", "instantly"]


@pytest.fixture
def xdg(tmp_path: Path) -> Path:
    """An empty config home, so a real ~/.config never leaks into a test."""
    home = tmp_path / "xdg"
    home.mkdir()
    return home


def run(xdg: Path, *args: str) -> Result:
    runner = CliRunner(env={"XDG_CONFIG_HOME": str(xdg), "COLUMNS": "200", "NO_COLOR": "1"})
    return runner.invoke(main, list(args), catch_exceptions=False)


def executable() -> list[str]:
    script = Path(sys.executable).parent / "incident-tui"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tui.cli import main; main()"]


def run_process(xdg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(xdg), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [*executable(), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def _rows(output: str) -> dict[str, str]:
    """`runbooks list` as id -> the rest of its line."""
    rows = {}
    for line in output.splitlines():
        first, _, rest = line.strip().partition(" ")
        if first in BUNDLED_IDS:
            rows[first] = rest
    return rows


def _retitled(runbook_id: str, title: str) -> str:
    text = (BUNDLED_DIR / f"{runbook_id}.yaml").read_text(encoding="utf-8")
    return re.sub(r"(?m)^title: .*$", f"title: {title}", text, count=1)


# --------------------------------------------------------------------------- list


def test_list_shows_the_four_bundled_runbooks(xdg):
    result = run(xdg, "runbooks", "list")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert sorted(rows) == BUNDLED_IDS
    for rest in rows.values():
        assert rest.rstrip().endswith("bundled")
    assert "Clay Incident Runbook" in rows["clay"]


def test_a_runbooks_dir_replaces_a_bundled_runbook_of_the_same_id(xdg, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "our-clay.yaml").write_text(_retitled("clay", "Our Clay Runbook"), encoding="utf-8")

    result = run(xdg, "--runbooks", str(mine), "runbooks", "list")
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert sorted(rows) == BUNDLED_IDS
    assert "Our Clay Runbook" in rows["clay"]
    assert f"user file {mine / 'our-clay.yaml'}" in rows["clay"]
    assert f"(replaces {BUNDLED_DIR / 'clay.yaml'})" in rows["clay"]
    assert rows["instantly"].rstrip().endswith("bundled")

    shown = run(xdg, "--runbooks", str(mine), "runbooks", "show", "clay")
    assert shown.exit_code == 0
    assert "Our Clay Runbook" in shown.stdout


def test_the_xdg_config_folder_is_read(xdg):
    folder = xdg / "incident-tui" / "runbooks"
    folder.mkdir(parents=True)
    (folder / "instantly.yml").write_text(
        _retitled("instantly", "Instantly, our way"), encoding="utf-8"
    )
    result = run(xdg, "runbooks", "list")
    assert result.exit_code == 0, result.output
    row = _rows(result.stdout)["instantly"]
    assert "Instantly, our way" in row
    assert f"user file {folder / 'instantly.yml'}" in row
    assert "replaces" in row


def test_list_reports_a_broken_user_file_and_a_duplicate_id(xdg, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.yaml").write_text(_retitled("clerk", "First"), encoding="utf-8")
    (mine / "b.yaml").write_text(_retitled("clerk", "Second"), encoding="utf-8")
    (mine / "c.yaml").write_text("id: broken\ntitle: [\n", encoding="utf-8")

    result = run(xdg, "--runbooks", str(mine), "runbooks", "list")
    assert result.exit_code == 2
    assert "First" in _rows(result.stdout)["clerk"]
    assert f'{mine / "b.yaml"}: id: duplicate runbook id "clerk"' in result.stderr
    assert f"{mine / 'c.yaml'}:" in result.stderr
    assert "YAML syntax error" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_runbooks_dir_is_reported(xdg, tmp_path):
    result = run(xdg, "--runbooks", str(tmp_path / "nowhere"), "runbooks", "list")
    assert result.exit_code == 2
    assert "is not a folder of runbooks" in result.stderr
    assert sorted(_rows(result.stdout)) == BUNDLED_IDS


# --------------------------------------------------------------------------- show


def test_show_prints_the_decision_tree_and_the_thresholds(xdg):
    result = run(xdg, "runbooks", "show", "clay")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "Clay Incident Runbook",
        "Rapid incident response procedures for Clay-related outages.",
        "Clay API returning errors?",
        "YES: Is status.clay.com showing incident?",
        "NO: Is our service healthy?",
        "Wait for Clay to resolve. Enable fallback.",
        "Our integration issue. Check credentials, config.",
        "Likely resolved or intermittent. Monitor.",
        "Our infrastructure issue. Check pods, memory, network.",
        "when error_rate > 1 /min",
        "vendor.indicator in [minor, major, critical]",
        "health.status == healthy",
        "alert when > 10 /min → P1",
        "alert when > 5000 ms → P2",
        "alert when > 5 /min → P2",
        "alert when > 0 /min → P1",
        "< 15 min",
        "Next business day",
        "Can't reach status page",
        "kubectl set env deployment/clay-integration -n production CLAY_FALLBACK=true",
        "revert: restore the previous environment",
        "destructive",
        "Incident commander: @{commander}",
        "[Preventive measure] - Owner - Due date",
    ):
        assert text in out, text
    # the tree is drawn, not listed
    assert re.search(r"├── YES: .*Is status\.clay\.com showing incident\?", out)
    assert re.search(r"└── NO: .*Our infrastructure issue", out)


def test_show_clerk_has_procedures_contacts_and_escalation(xdg):
    result = run(xdg, "runbooks", "show", "clerk")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "Procedure 1: Auth Outage Response",
        "a. ☐ Enable emergency bypass (if safe)",
        "Procedure 2: Security Breach Response",
        "8. ☐ Document and report",
        "Procedure 3: Data Sync Recovery",
        "On-Call Engineer",
        "support@clerk.com",
        "0-15 min",
        "15-30 min",
        "30+ min",
        "POST https://api.clerk.com/v1/users/{user_id}/ban",
        "bearer token from $CLERK_SECRET_KEY",
        "(the responder answers)",
        "## Lessons Learned",
    ):
        assert text in out, text


@pytest.mark.parametrize("runbook_id", BUNDLED_IDS)
def test_show_renders_every_bundled_runbook(xdg, runbook_id):
    result = run(xdg, "runbooks", "show", runbook_id)
    assert result.exit_code == 0, result.output
    assert load_runbook(BUNDLED_DIR / f"{runbook_id}.yaml").title in result.stdout


def test_show_an_unknown_id_is_one_line_and_exit_2(xdg):
    result = run(xdg, "runbooks", "show", "nope")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert 'no runbook with id "nope"' in result.stderr
    assert "clay, clay-prod-checklist, clerk, instantly" in result.stderr


# --------------------------------------------------------------------------- validate

MINIMAL = """\
id: acme
title: Acme Incident Runbook
overview: What to do when Acme fails.
vendor:
  name: Acme
  status_page: https://status.acme.test
service:
  namespace: production
  deployment: acme-integration
  selector: app=acme-integration
severities:
  - level: P1
    definition: Complete outage
    response_time: 15m
    example: Acme API unreachable
remediations:
  - id: restart
    kind: rollout_restart
    title: Restart the pods
decision_tree:
  root: broken
  nodes:
    - id: broken
      question: Is Acme failing?
      yes: fix
      no: fine
    - id: fix
      conclusion: Restart.
      remediations: [restart]
    - id: fine
      conclusion: Monitor.
"""


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


BROKEN = [
    # (case, old, new, line marker or None for "any line", field, message)
    ("yaml-syntax", "title: Acme Incident Runbook", "title: [Acme", None, "", "YAML syntax error"),
    (
        "unknown-key",
        "overview: What to do when Acme fails.",
        "overview: What to do when Acme fails.\ncolour: red",
        "colour: red",
        "colour",
        "is not a field of this schema (unknown key)",
    ),
    (
        "wrong-type-duration",
        "response_time: 15m",
        "response_time: soon",
        "response_time: soon",
        "severities[0].response_time",
        '"soon" is not a duration',
    ),
    (
        "wrong-type-string",
        "example: Acme API unreachable",
        "example: 42",
        "example: 42",
        "severities[0].example",
        "input should be a valid string",
    ),
    (
        "unknown-kind",
        "kind: rollout_restart",
        "kind: reboot",
        "kind: reboot",
        "remediations[0].kind",
        "has an unknown kind",
    ),
    (
        "missing-field",
        "  deployment: acme-integration\n",
        "",
        "service:",
        "service.deployment",
        "is required but missing",
    ),
    (
        "dangling-remediation",
        "remediations: [restart]",
        "remediations: [restrat]",
        "remediations: [restrat]",
        "decision_tree.nodes[1].remediations[0]",
        'names remediation "restrat", which does not exist',
    ),
    (
        "duplicate-id",
        "    title: Restart the pods\n",
        "    title: Restart the pods\n  - id: restart\n    kind: rollout_undo\n    title: Undo\n",
        "  - id: restart\n    kind: rollout_undo",
        "remediations[1].id",
        'duplicate remediation id "restart"',
    ),
    (
        "duplicate-key",
        "title: Acme Incident Runbook",
        "title: Acme Incident Runbook\ntitle: Again",
        "title: Again",
        "",
        'duplicate key "title"',
    ),
]


def test_validate_a_good_file_exits_0(xdg, tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    result = run(xdg, "runbooks", "validate", str(path), str(BUNDLED_DIR / "clerk.yaml"))
    assert result.exit_code == 0, result.output
    assert f"{path}: ok (acme: Acme Incident Runbook)" in result.stdout
    assert "clerk.yaml: ok (clerk: Clerk Incident Runbook)" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "marker", "field", "message"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_validate_reports_file_line_field_and_message(
    xdg, tmp_path, old, new, marker, field, message
):
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")

    result = run(xdg, "runbooks", "validate", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines, result.output
    if marker is None:
        line_part = r"\d+"
    elif "\n" in marker:
        line_part = str(text[: text.index(marker)].count("\n") + 1)
    else:
        line_part = str(_line_of(text, marker))
    field_part = f"{re.escape(field)}: " if field else ""
    pattern = rf"^{re.escape(str(path))}:{line_part}: {field_part}.*{re.escape(message)}"
    assert any(re.search(pattern, line) for line in lines), (pattern, lines)


def test_validate_reports_every_problem_of_every_file(xdg, tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        MINIMAL.replace("example: Acme API unreachable", "example: 42").replace(
            "[restart]", "[nothing]"
        ),
        encoding="utf-8",
    )
    missing = tmp_path / "missing.yaml"
    result = run(xdg, "runbooks", "validate", str(good), str(bad), str(missing))
    assert result.exit_code == 2
    assert f"{good}: ok" in result.stdout
    assert f"{bad}:" in result.stderr and "severities[0].example" in result.stderr
    assert f"{missing}: no such file" in result.stderr


def test_validate_from_the_shell_never_shows_a_traceback(xdg, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(MINIMAL.replace("[restart]", "[restrat]"), encoding="utf-8")
    done = run_process(xdg, "runbooks", "validate", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    line = _line_of(MINIMAL, "[restart]")
    assert done.stderr.startswith(f"{path}:{line}: decision_tree.nodes[1].remediations[0]: ")


def test_validate_accepts_the_bundled_files(xdg):
    paths = [str(p) for p in sorted(BUNDLED_DIR.glob("*.yaml"))]
    result = run(xdg, "runbooks", "validate", *paths)
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": ok (") == 4


# --------------------------------------------------------------------------- help, version


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    ctx = click.Context(main)

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(main, [])
    return paths


def test_help_works_on_every_command(xdg):
    paths = _command_paths()
    assert ["runbooks", "list"] in paths and ["runbooks", "validate"] in paths
    for path in paths:
        result = run(xdg, *path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.stdout, path


def test_version_and_help_from_the_shell(xdg):
    version = run_process(xdg, "--version")
    assert version.returncode == 0
    assert re.fullmatch(r"incident-tui, version \d+\.\d+\.\d+\S*\n", version.stdout)
    for args in (["--help"], ["runbooks", "--help"], ["runbooks", "show", "--help"]):
        done = run_process(xdg, *args)
        assert done.returncode == 0, done.stderr
        assert "Usage: incident-tui" in done.stdout


def test_show_from_the_shell_draws_the_tree(xdg):
    done = run_process(xdg, "runbooks", "show", "instantly")
    assert done.returncode == 0, done.stderr
    assert "Instantly API returning errors?" in done.stdout
    assert "└── NO: Is our service healthy?" in done.stdout


# --------------------------------------------------------------------------- the guide


def _guide() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Writing a runbook")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def _guide_example() -> str:
    match = re.search(r"```yaml\n(.*?)```", _guide(), re.S)
    assert match, "the guide has a yaml example"
    return match[1]


def test_the_guide_example_validates(xdg, tmp_path):
    path = tmp_path / "acme-mail.yaml"
    path.write_text(_guide_example(), encoding="utf-8")
    result = run(xdg, "runbooks", "validate", str(path))
    assert result.exit_code == 0, result.output
    book = load_runbook(path)
    assert book.vendor.name == "Acme Mail"
    kinds = {r.kind for r in book.remediations}
    assert {"set_env", "rollout_restart", "rollout_undo", "rotate_secret", "scale"} <= kinds
    assert book.decision_tree is not None and book.comms is not None
    assert book.postmortem is not None and book.error_handling and book.checklists


def test_the_guide_example_works_as_a_user_runbook(xdg):
    folder = xdg / "incident-tui" / "runbooks"
    folder.mkdir(parents=True)
    (folder / "acme-mail.yaml").write_text(_guide_example(), encoding="utf-8")
    listed = run(xdg, "runbooks", "list")
    assert listed.exit_code == 0, listed.output
    assert re.search(r"acme-mail\s+Acme Mail Incident Runbook\s+user file", listed.stdout)
    shown = run(xdg, "runbooks", "show", "acme-mail")
    assert shown.exit_code == 0, shown.output
    assert "Acme Mail" in shown.stdout


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                _models(annotation, seen)
            stack += list(typing.get_args(annotation))


def test_the_guide_documents_every_field_of_the_schema():
    seen: set[type[BaseModel]] = set()
    _models(Runbook, seen)
    guide = _guide()
    missing = [
        f"{model.__name__}.{field.alias or name}"
        for model in seen
        for name, field in model.model_fields.items()
        if f"`{field.alias or name}`" not in guide
    ]
    assert missing == []


def test_the_guide_shows_how_to_validate_and_where_files_go():
    guide = _guide()
    assert "incident-tui runbooks validate" in guide
    assert "~/.config/incident-tui/runbooks/" in guide
    assert "--runbooks" in guide
    for builtin in ("vendor.indicator", "vendor.incidents", "health.status", "health.latency_ms"):
        assert builtin in guide
