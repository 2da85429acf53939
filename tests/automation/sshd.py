"""A real OpenSSH server on loopback for tests and benchmarks: keys, stand-in tools, known_hosts."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
TEST_USER = "openclaw-ssh"
STANDIN_PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"

_STANDIN = '''#!{python}
"""Stand-in {tool}: record argv (one JSON array per line), then behave plausibly."""
import json, os, sys, time  # noqa: E401
TOOL = {tool!r}
RECORD = {record!r}
JOURNAL = {journal!r}
argv = sys.argv[1:]
with open(RECORD, "a") as f:
    f.write(json.dumps([TOOL] + argv) + "\\n")
if TOOL == "systemctl":
    unit = argv[-1] if argv else ""
    if argv[:1] == ["is-active"]:
        state = "failed" if "broken" in unit else "active"
        print(state)
        sys.exit(0 if state == "active" else 3)
    if argv[:1] == ["restart"] and "broken" in unit:
        print("Job for " + unit + " failed because the control process exited with error code.", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
if TOOL == "journalctl":
    lines = open(JOURNAL).read().splitlines() if os.path.exists(JOURNAL) else []
    if "-n" in argv:
        lines = lines[-int(argv[argv.index("-n") + 1]):]
    print("\\n".join(lines))
    sys.exit(0)
if TOOL == "deployer":
    for arg in argv:
        if arg.startswith("slow-"):
            print("deploying slowly", flush=True)
            time.sleep(float(arg.split("-", 1)[1]))
    if "fail" in argv:
        print("deploy failed: DB_PASSWORD=hunter2 rejected")
        sys.exit(1)
    print("deployed " + " ".join(argv))
    sys.exit(0)
'''


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A new passphrase-less key pair at path (and path.pub)."""
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "openclaw-test", "-f", str(path)], check=True)
    return path


def login_user() -> str:
    """The account tests log in as: a dedicated user with /bin/sh when root, else ourselves."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            # password "*": no password login, but not "locked" (sshd without PAM refuses locked accounts)
            ["useradd", "--system", "--no-create-home", "--home-dir", "/tmp", "--shell", "/bin/sh",
             "--password", "*", TEST_USER],
            check=True,
        )
    return TEST_USER


@dataclass
class SSHServer:
    """One running sshd and everything a client needs to reach it."""

    workdir: Path
    port: int
    user: str
    client_key: Path
    host_key: Path
    known_hosts: Path
    record: Path
    journal: Path
    bin_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def calls(self) -> list[list[str]]:
        """Every stand-in invocation so far, oldest first."""
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def clear_calls(self) -> None:
        self.record.write_text("")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _write_standins(bin_dir: Path, record: Path, journal: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("systemctl", "journalctl", "deployer"):
        script = bin_dir / tool
        script.write_text(_STANDIN.format(python=STANDIN_PYTHON, tool=tool, record=str(record), journal=str(journal)))
        script.chmod(0o755)


def start_sshd(workdir: Path | None = None, *, client_key: Path | None = None, user: str | None = None) -> SSHServer:
    """Start sshd -D on a free loopback port with fresh keys and stand-ins; waits until it answers."""
    if not SSHD.exists():
        raise RuntimeError("/usr/sbin/sshd is missing: apt-get install openssh-server")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="openclaw-sshd-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    user = user or login_user()
    host_key = keygen(workdir / "ssh_host_ed25519_key")
    if client_key is None:
        client_key = keygen(workdir / "id_ed25519")
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    authorized.chmod(0o644)
    record, journal, bin_dir = workdir / "calls.jsonl", workdir / "journal.txt", workdir / "bin"
    record.write_text("")
    record.chmod(0o666)
    journal.write_text("")
    journal.chmod(0o644)
    _write_standins(bin_dir, record, journal)
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {workdir / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes", "StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password",
        f"AllowUsers {user}", "MaxSessions 100", "MaxStartups 100:30:200", "LogLevel ERROR",
        f"SetEnv PATH={bin_dir}:/usr/local/bin:/usr/bin:/bin", "Subsystem sftp internal-sftp", "",
    ]))
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {Path(f'{host_key}.pub').read_text().split(' ')[0]} "
                           f"{Path(f'{host_key}.pub').read_text().split(' ')[1]}\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    with open(workdir / "sshd.log", "ab") as log:
        process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=log)
    server = SSHServer(workdir, port, user, client_key, host_key, known_hosts, record, journal, bin_dir, process)
    _wait_for_banner(port, process)
    return server


def _wait_for_banner(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd on port {port} did not answer")


def remove_workdir(server: SSHServer) -> None:
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)
