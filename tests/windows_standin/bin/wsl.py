# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for wsl.exe on the Linux lab node that plays the Windows desktop.

Implements what roles/windows_host calls: --version, --list --verbose, --import NAME DIR
TARBALL [--version 2], --distribution/-d NAME [--user/-u USER] --exec/-e CMD..., --terminate,
--shutdown. Messages and listings are UTF-16LE with CRLF like the real wsl.exe, UTF-8 when
WSL_UTF8=1; what a command inside a distribution prints passes through as is. A
distribution is a Debian root file system unpacked from the imported tarball into
DIR/rootfs (DIR/ext4.vhdx marks the disk, as the import script checks); --exec runs the
command in it with chroot (no systemd runs inside: services are enabled, not started).
State (registered distributions, running or stopped, shutdowns) is shared with the
stand-in modules in /var/lib/windows-standin/state.json.
"""

import os
import subprocess
import sys

sys.path.insert(0, "/usr/local/lib/windows-standin")
from _standin import load_state, save_state, win_path  # noqa: E402  pylint: disable=wrong-import-position

USAGE = "Invalid command line argument: %s\r\nPlease use 'wsl.exe --help' to get a list of supported arguments.\r\n"
ERROR_EXIT = 255  # the real wsl.exe exits with -1


def say(text, stream=None):
    stream = stream or sys.stdout
    text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    data = text.encode("utf-8") if os.environ.get("WSL_UTF8") == "1" else text.encode("utf-16-le")
    stream.buffer.write(data)
    stream.buffer.flush()


def fail(text):
    say(text if text.endswith("\n") else text + "\r\n")
    sys.exit(ERROR_EXIT)


def stop_tasks(state, marker):
    """Scheduled tasks whose process ran in WSL end when WSL stops it."""
    for task in state["scheduled_tasks"].values():
        if any(marker in "%s %s" % (a.get("path", ""), a.get("arguments", "")) for a in task.get("actions", [])):
            task["_state"] = "Ready"


def do_version(state):
    say("WSL version: %s\nKernel version: 6.6.87.2-1\nWSLg version: 1.0.66\nMSRDC version: 1.2.6074\n"
        "Direct3D version: 1.611.1-81528511\nDXCore version: 10.0.26100.1-240331-1435.ge-release\n"
        "Windows version: 10.0.26100.4652\n" % state["wsl_version"])


def do_list(state):
    dists = state["distributions"]
    if not dists:
        fail("Windows Subsystem for Linux has no installed distributions.\n"
             "You can resolve this by installing a distribution with the instructions below:\n\n"
             "Use 'wsl.exe --list --online' to list available distributions\n")
    width = max(len(n) for n in dists) + 4
    lines = ["  %s%s%s" % ("NAME".ljust(width), "STATE".ljust(16), "VERSION")]
    for name, dist in dists.items():
        mark = "*" if dist.get("default") else " "
        lines.append("%s %s%s%s" % (mark, name.ljust(width), dist["state"].ljust(16), dist["version"]))
    say("\n".join(lines) + "\n")


def do_import(state, args):
    if len(args) not in (3, 5) or (len(args) == 5 and args[3] != "--version"):
        fail(USAGE % " ".join(args))
    name, install_dir, tarball = args[:3]
    if name in state["distributions"]:
        fail("A distribution with the supplied name already exists. Use --name to chose a different name.\n"
             "Error code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS\n")
    source = win_path(tarball, state)
    if not os.path.isfile(source):
        fail("The system cannot find the file specified.\nError code: Wsl/Service/RegisterDistro/ERROR_FILE_NOT_FOUND\n")
    target = win_path(install_dir, state)
    rootfs = os.path.join(target, "rootfs")
    os.makedirs(rootfs, exist_ok=True)
    subprocess.run(["tar", "-C", rootfs, "-xf", source], check=True)
    with open(os.path.join(target, "ext4.vhdx"), "w", encoding="utf-8") as handle:
        handle.write("stand-in: the root file system is in rootfs/\n")
    state["distributions"][name] = {
        "dir": install_dir, "rootfs": rootfs, "version": int(args[4]) if len(args) == 5 else 2, "state": "Stopped",
        "default": not state["distributions"],
    }
    save_state(state)
    say("The operation completed successfully.\n")


def do_exec(state, dist_name, user, command):
    if dist_name is None:
        dist_name = next((n for n, d in state["distributions"].items() if d.get("default")), None)
    dist = state["distributions"].get(dist_name or "")
    if dist is None:
        fail("There is no distribution with the supplied name.\n"
             "Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\n")
    dist["state"] = "Running"
    state["wsl_vm_running"] = True
    save_state(state)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "WSL_DISTRO_NAME": dist_name,
           "TERM": "dumb", "LANG": "C.UTF-8", "HOME": "/root" if user == "root" else "/home/%s" % user}
    argv = ["chroot"] + (["--userspec=%s" % user] if user != "root" else []) + [dist["rootfs"]] + command
    os.execvpe("chroot", argv, env)


def main(args):
    state = load_state()
    if not args:
        fail(USAGE % "")
    dist_name, user = None, "root"
    while args:
        arg = args.pop(0)
        if arg in ("--version", "-v") and not args:
            return do_version(state)
        if arg in ("--list", "-l"):
            if args not in (["--verbose"], ["-v"]):
                fail(USAGE % " ".join(args))
            return do_list(state)
        if arg == "--import":
            return do_import(state, args)
        if arg == "--shutdown" and not args:
            state["wsl_shutdowns"] += 1
            state["wsl_vm_running"] = False
            for dist in state["distributions"].values():
                dist["state"] = "Stopped"
            stop_tasks(state, "wsl.exe")
            save_state(state)
            return 0
        if arg in ("--terminate", "-t") and len(args) == 1:
            dist = state["distributions"].get(args[0])
            if dist is None:
                fail("There is no distribution with the supplied name.\nError code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\n")
            state["wsl_terminates"].append(args[0])
            dist["state"] = "Stopped"
            stop_tasks(state, "--distribution %s " % args[0])
            save_state(state)
            return 0
        if arg in ("--distribution", "-d") and args:
            dist_name = args.pop(0)
            continue
        if arg in ("--user", "-u") and args:
            user = args.pop(0)
            continue
        if arg in ("--exec", "-e") and args:
            return do_exec(state, dist_name, user, args)
        if arg == "--" and args:
            return do_exec(state, dist_name, user, ["/bin/sh", "-c", " ".join(args)])
        fail(USAGE % arg)
    return fail(USAGE % "")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
