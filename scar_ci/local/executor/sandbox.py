"""Lambda's sandbox for one execution environment, then exec the init process (stdlib only).

    python sandbox.py SPEC_FILE -- COMMAND...

Run as root by the executor, on the function's Python. In a mount namespace of its own it
binds the function's code read-only at /var/task and its merged layers at /opt, makes every
other mount read-only, mounts a tmpfs of the function's ephemeral storage size at /tmp (the only
writable place, besides the environment's log folder), masks folders the sandbox user could
not enter (such as /root) with an empty tmpfs that shows only the paths the runtime needs,
drops to the sandbox's non-root uid and gid, sets no_new_privs and a seccomp filter that
denies ptrace (as Lambda does: udocker's proot modes fail, Fakechroot works), and execs
COMMAND in /var/task. Without root (no namespace, no other uid) only the seccomp filter
applies, and the sandbox says so on stderr (the environment's log).

The sandbox user is named in /etc/passwd and /etc/group as on Lambda (sbx_user1051; udocker
needs a name), through copies written in WORK_DIR and bound over the host's.

SPEC (JSON): {"uid", "gid", "tmp_mb", "task_dir", "opt_dir", "work_dir", "log_dir",
"reachable": [paths], "deny_ptrace": bool}; WORK_DIR is root's, LOG_DIR (inside it) the sandbox
user's. An image function has no task_dir or opt_dir (its own root file system comes through
udocker) and keeps ptrace: local mode runs its image with udocker's proot mode, which needs it.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import stat
import struct
import sys
from pathlib import Path

TASK_ROOT = "/var/task"
OPT = "/opt"
TMP = "/tmp"  # noqa: S108 (Lambda's only writable place)
USER_NAME = "sbx_user1051"
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
_FLAG_OPTIONS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
                 "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
# seccomp: (audit arch, ptrace's syscall number) per machine.
_PTRACE = {"x86_64": (0xC000003E, 101), "aarch64": (0xC00000B7, 117)}
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, EPERM = 0x7FFF0000, 0x00050000, 1
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
# Mounts left as they are: the kernel's own views (a function reads them, never writes there).
_KERNEL_MOUNTS = ("/proc",)

_ESCAPED = re.compile(r"\\([0-7]{3})")

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxError(Exception):
    """The sandbox cannot be made; the message says why."""


def _check(result: int, doing: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise SandboxError(f"{doing}: {os.strerror(error)}")


def _bytes(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def _mount(source: str | None, target: str, kind: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(kind), ctypes.c_ulong(flags),
                       _bytes(data)), f"mount {target}")


def _mount_points() -> list[tuple[str, int]]:
    """Every mount point of this namespace with its per-mount flags, parents first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = _ESCAPED.sub(lambda m: chr(int(m[1], 8)), fields[4])  # \040 for a space...
        flags = sum(_FLAG_OPTIONS.get(option, 0) for option in fields[5].split(","))
        points.append((point, flags))
    return points


def _read_only_everywhere() -> list[str]:
    """Remount every mount read-only except the kernel's; the ones that could not be made
    read-only are returned (said on stderr by the caller)."""
    left = []
    for point, flags in _mount_points():
        if point.startswith(_KERNEL_MOUNTS):
            continue
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except SandboxError:
            left.append(point)
    return left


def _bind(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)


def _unreachable_parent(path: Path, uid: int, gid: int) -> Path | None:
    """The topmost folder on the way to `path` that uid/gid cannot enter, if any."""
    for parent in [*reversed(path.parents), path]:
        info = parent.stat()
        mode = info.st_mode
        enter = (stat.S_IXUSR if info.st_uid == uid
                 else stat.S_IXGRP if info.st_gid == gid else stat.S_IXOTH)
        if not mode & enter:
            return parent
    return None


def _unreachable(paths: list[str], uid: int, gid: int) -> list[str]:
    """The folders on the way to `paths` that the sandbox user cannot enter, parents first."""
    blocked = {b for path in paths if (b := _unreachable_parent(Path(path), uid, gid))}
    return [str(folder) for folder in sorted(blocked, key=lambda p: len(p.parts))]


def _show_hidden(handles: dict[str, int], writable: str) -> None:
    """Bind back, at its own path, each path that a mask or the new /tmp hid (from the
    handle opened before), read-only; `writable` is bound again in any case, writable."""
    for path, handle in handles.items():
        before, now = os.fstat(handle), _stat_or_none(path)
        hidden = not now or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino)
        if not hidden and path != writable:
            continue
        Path(path).mkdir(parents=True, exist_ok=True)
        _bind(f"/proc/self/fd/{handle}", path)
        read_only = 0 if path == writable else MS_RDONLY
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | read_only)


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return Path(path).stat()
    except OSError:
        return None


def _ptrace_filter() -> bytes:
    """A seccomp BPF program: ptrace fails with EPERM, everything else is allowed."""
    arch, number = _PTRACE[platform.machine()]
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ_K, 0, 3, arch),  # another ABI: allow
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (BPF_JEQ_K, 0, 1, number),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return b"".join(struct.pack("HBBI", *instruction) for instruction in program)


def deny_ptrace() -> None:
    """no_new_privs, then the ptrace filter, for this process and all it starts."""
    program = _ptrace_filter()
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HxxxxxxP", len(program) // 8, ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog_buffer, 0, 0),
           "prctl(PR_SET_SECCOMP)")


def _name_user(work_dir: Path, uid: int, gid: int) -> None:
    """/etc/passwd and /etc/group with the sandbox user, bound over the host's."""
    lines = {"passwd": f"{USER_NAME}:x:{uid}:{gid}::/home/{USER_NAME}:/sbin/nologin\n",
             "group": f"{USER_NAME}:x:{gid}:\n"}
    for name, line in lines.items():
        host = Path("/etc", name)
        copy = work_dir / name
        copy.write_text(host.read_text() + line)
        copy.chmod(0o644)
        _bind(str(copy), str(host))


def isolate(spec: dict) -> list[str]:
    """The mount namespace as Lambda's (see the module docstring); returns the mounts that
    stayed writable."""
    uid, gid, log_dir = spec["uid"], spec["gid"], spec["log_dir"]
    os.chown(log_dir, uid, gid)
    Path(log_dir).chmod(0o700)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    reachable = [path for path in spec["reachable"] if Path(path).exists()]
    handles = {path: os.open(path, os.O_PATH) for path in reachable}  # this namespace's mounts
    masks = _unreachable(reachable, uid, gid)
    if spec["task_dir"]:  # a zip function's (an image brings its own root file system)
        Path(TASK_ROOT).mkdir(parents=True, exist_ok=True)  # an empty mount point on the host
        _bind(spec["task_dir"], TASK_ROOT)
        _bind(spec["opt_dir"], OPT)
    _name_user(Path(spec["work_dir"]), uid, gid)
    left = _read_only_everywhere()
    size = f"size={int(spec['tmp_mb'])}m,mode=0700,uid={uid},gid={gid}"
    _mount("tmpfs", TMP, "tmpfs", MS_NOSUID | MS_NODEV, size)
    # From here until _show_hidden, this Python's own files may be hidden: no lazy imports.
    masks = [mask for mask in masks if Path(mask).is_dir()]  # the new /tmp hides some already
    for mask in masks:  # an empty tmpfs over each: what is needed below comes back next
        _mount("tmpfs", mask, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    _show_hidden(handles, log_dir)
    for mask in masks:
        _mount(None, mask, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_RDONLY)
    for handle in handles.values():
        os.close(handle)
    return left


def drop_privileges(uid: int, gid: int) -> None:
    """Become uid/gid for good, with no supplementary groups."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def main() -> None:
    """Make the sandbox, then exec the command after `--`."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    command = sys.argv[sys.argv.index("--") + 1:]
    try:
        if os.geteuid() == 0:
            for point in isolate(spec):
                print(f"scar-local sandbox: {point} stays writable", file=sys.stderr)
            drop_privileges(spec["uid"], spec["gid"])
        else:
            print(f"scar-local sandbox: not root, so the function runs as uid {os.geteuid()} "
                  "with the host's file system (only ptrace is denied)", file=sys.stderr)
        if spec["deny_ptrace"]:
            deny_ptrace()
    except (SandboxError, OSError) as error:
        print(f"scar-local sandbox: {error}", file=sys.stderr)
        raise SystemExit(126) from None
    if spec["task_dir"]:
        os.chdir(TASK_ROOT if os.geteuid() == spec["uid"] else spec["task_dir"])
    os.execv(command[0], command)  # noqa: S606 (the executor's own command)


if __name__ == "__main__":
    main()
