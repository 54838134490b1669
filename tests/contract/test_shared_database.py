"""The embedded database shared by the server and the CLI: a command run next to a running
server (users add, reports, sweeps, as the operator pages say) must not cost the server its
write-ahead log, and with it every write acknowledged since."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from chalicelib.adapters.embedded import SqliteRecords, _Database
from chalicelib.ports import IndexEntry, Record

ROOT = Path(__file__).resolve().parents[2]
READ_AND_LEAVE = """
import sys
from chalicelib.adapters.embedded import SqliteRecords, _Database
from pathlib import Path
records = SqliteRecords(_Database(Path(sys.argv[1])))
print(",".join(sorted(r.key for r in records.query("p", "x").records)))
"""


def another_process_reads(path: Path) -> str:
    """What a separate process (the CLI) sees; it closes its connection when it exits."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'api'}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-c", READ_AND_LEAVE, str(path)], env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def test_a_command_beside_the_server_loses_none_of_its_writes(tmp_path: Path) -> None:
    path = tmp_path / "beian.db"
    server = SqliteRecords(_Database(path))

    def save(key: str) -> None:
        server.save(Record("filing", key, {"n": key}, indexes=(IndexEntry("p", "x"),)))

    save("f-1")
    # The server's next request lands on a new thread, which opens its own connection.
    worker = threading.Thread(target=save, args=("f-2",))
    worker.start()
    worker.join()
    assert another_process_reads(path) == "f-1,f-2"
    assert Path(f"{path}-wal").exists()  # the server still holds it: nobody may delete it
    save("f-3")
    assert another_process_reads(path) == "f-1,f-2,f-3"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
