"""Run every `tests/filecheck/**/*.mlir` file's `// RUN:` lines through the shell.

`%s` becomes the file's path; the venv's `bin` comes first on PATH, so `mlir-lite` and
`filecheck` (the pip package) are the ones of this checkout. A RUN line that does not pipe into
filecheck itself is piped into `filecheck FILE`. As in lit without pipefail, a line's status is
that of its last command (so expected-error files can pipe a failing `mlir-lite verify` into
filecheck). A failing line fails the test with the command's output.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parent
FILES = sorted((ROOT / "filecheck").rglob("*.mlir"))


def run_lines(path: Path) -> List[str]:
    """The RUN commands of a file (a trailing backslash continues a line)."""
    out, cur = [], ""
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s.startswith("// RUN:"):
            continue
        cur += s[len("// RUN:"):].strip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        out.append(cur)
        cur = ""
    return out


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT / "filecheck")) for p in FILES])
def test_filecheck(path: Path) -> None:
    lines = run_lines(path)
    assert lines, f"{path} has no // RUN: line"
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    for cmd in lines:
        if "filecheck" not in cmd.lower():
            cmd += " | filecheck %s"
        cmd = cmd.replace("%s", shlex.quote(str(path)))
        proc = subprocess.run(["bash", "-c", cmd], env=env, cwd=ROOT.parent,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.fail(f"RUN: {cmd}\nexit status {proc.returncode}\n--- stdout ---\n"
                        f"{proc.stdout}\n--- stderr ---\n{proc.stderr}", pytrace=False)
