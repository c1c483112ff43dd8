"""Records events into a journal in a tight loop, printing each id once record() returned.

    python tests/journal_writer.py JOURNAL_DIR [COUNT] [TAG] [GO_FILE]

COUNT 0 (the default) writes until killed. The crash test kills it with SIGKILL and then
checks that every id it printed is in the journal; the concurrency test runs two at once,
both waiting after ``ready`` until GO_FILE exists so that they really write together.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.record.event import Event
from tui.record.journal import Journal


def main() -> None:
    journal = Journal(Path(sys.argv[1]))
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    tag = sys.argv[3] if len(sys.argv) > 3 else "writer"
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    if len(sys.argv) > 4:
        go = Path(sys.argv[4])
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
    number = 0
    while count == 0 or number < count:
        number += 1
        event = Event.new(
            "note",
            f"{tag} event {number}",
            actor=tag,
            source="cli",
            details={"text": f"{tag} event {number}", "padding": "x" * (number % 300)},
        )
        written = journal.record(event)
        out.write(written.id + "\n")
        out.flush()


if __name__ == "__main__":
    main()
