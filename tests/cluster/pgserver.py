"""A throwaway PostgreSQL server for tests: Debian's binaries, a temp data folder, 127.0.0.1 on a free
port, password login (scram-sha-256) for user `sseft`. PostgreSQL refuses to run as root: as root,
the server runs as the `postgres` user (created by the Debian package)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clusterhelpers import free_port

PASSWORD = "s3cret-pw"


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


def why_absent() -> str | None:
    """None when a server can be started here, else why not (the skip reason)."""
    if postgres_bin() is None:
        return "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/pg_ctl): apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the server as"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed: pip install 'sseft[cluster]'"
    return None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields the URL `postgresql://sseft:PASSWORD@127.0.0.1:PORT/postgres`; stops and deletes after."""
    bindir = postgres_bin()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="sseft-pg-"))
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        ent = pwd.getpwnam(user)
        os.chown(root, ent.pw_uid, ent.pw_gid)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if user:
        os.chown(pwfile, ent.pw_uid, ent.pw_gid)
    data, port = root / "data", free_port()

    def run(*args: str) -> None:
        p = subprocess.run(args, user=user, capture_output=True, text=True, timeout=120, cwd=root)
        assert p.returncode == 0, f"{args[0]}: {p.stdout[-2000:]}{p.stderr[-2000:]}"

    run(str(bindir / "initdb"), "-D", str(data), "-U", "sseft", f"--pwfile={pwfile}", "--auth-host=scram-sha-256",
        "--auth-local=trust", "--no-sync")  # fmt: skip
    opts = f"-k {root} -h 127.0.0.1 -p {port} -c fsync=off -c synchronous_commit=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    try:
        yield f"postgresql://sseft:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], user=user,
                       capture_output=True, timeout=60, cwd=root)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
