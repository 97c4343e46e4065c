# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""The k3s agent's files on a node: what they should hold, what differs, and writing them.

Used by the module ``k3s_agent_files`` (role ``cluster_join``). Standard library only
(Python 3.8+). The pure part (:func:`config_yaml`, :func:`agent_unit`, :func:`plan_present`,
:func:`plan_absent`, :func:`merge_record`) takes data and returns data; the I/O part
(:func:`read_state`, :func:`write_file`, :func:`apply`) touches the disk and nothing else.

The token never leaves this file in any form: changes to the token file carry a
placeholder instead of its text, both before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile

BINARY = "/usr/local/bin/k3s"
SERVICE = "k3s-agent"
UNIT_PATH = "/etc/systemd/system/k3s-agent.service"
CONFIG_DIR = "/etc/rancher/k3s"
CONFIG_PATH = "/etc/rancher/k3s/config.yaml"
TOKEN_PATH = "/etc/rancher/k3s/agent-token"
# Directories the role creates when missing (and removes again when empty).
DIRS = ("/etc/rancher", CONFIG_DIR)
RECORD_DIR = "/var/lib/homelab-gpu-node"
RECORD_PATH = "/var/lib/homelab-gpu-node/cluster_join.json"
# A k3s server on this host: a server is already a node, an agent must not be added.
SERVER_UNIT = "/etc/systemd/system/k3s.service"

SHA256 = re.compile(r"^[0-9a-f]{64}$")

HIDDEN = "(the join token, not shown)\n"

HEADER = (
    "# Managed by homelab.gpu_node.cluster_join (k3s_agent_files); local changes are replaced.\n"
    "# node-label and node-taint apply when the node registers; the cluster side (gpu_cluster)\n"
    "# owns labels and taints through the API after that.\n"
)

UNIT = """\
# Managed by homelab.gpu_node.cluster_join (k3s_agent_files); local changes are replaced.
# The unit k3s's install.sh writes for an agent (create_systemd_service_file), with all
# settings in /etc/rancher/k3s/config.yaml and the token in a 0600 file named there:
# nothing secret on the command line or in this unit's environment.
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
KillMode=process
Delegate=yes
User=root
# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart={binary} agent
"""


class K3sAgentError(Exception):
    """A user-facing reason why the agent's files cannot be written; never contains the token."""


def agent_unit(binary=BINARY):
    """The k3s-agent systemd unit running ``binary agent``."""
    return UNIT.format(binary=binary)


def _scalar(value):
    """A YAML scalar: JSON's spelling is valid YAML (strings double-quoted, true/false, numbers, null)."""
    return json.dumps(value, ensure_ascii=False)


_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
# YAML 1.1 reads these plain words as booleans or null, also as keys
_YAML_WORDS = frozenset(("y", "n", "yes", "no", "true", "false", "on", "off", "null"))


def _key(key):
    """A mapping key: plain when it is a simple name (k3s's flags are), else double-quoted."""
    key = str(key)
    if _PLAIN_KEY.match(key) and key.lower() not in _YAML_WORDS:
        return key
    return _scalar(key)


def config_yaml(config):
    """``config.yaml`` text for a dict of k3s flags: one key per line, in the given order.

    Scalars and lists of scalars are written in block style; anything nested in flow style
    (JSON), which YAML reads the same way. k3s reads the file with a YAML parser.
    """
    lines = [HEADER.rstrip("\n")]
    for key, value in config.items():
        if isinstance(value, (list, tuple)) and value and all(not isinstance(v, (dict, list, tuple)) for v in value):
            lines.append("%s:" % _key(key))
            lines.extend("  - %s" % _scalar(item) for item in value)
        else:
            lines.append("%s: %s" % (_key(key), _scalar(value)))
    return "\n".join(lines) + "\n"


def desired_files(config, token, binary=BINARY):
    """path -> (text, mode) for the agent's files (state=present)."""
    return {
        TOKEN_PATH: (token, 0o600),
        CONFIG_PATH: (config_yaml(config), 0o600),
        UNIT_PATH: (agent_unit(binary), 0o644),
    }


def _file_change(path, want_text, want_mode, have, secret):
    """The change for one file, or None: ``have`` is :func:`read_state`'s entry for it."""
    if have.get("exists") and have.get("type") != "file":
        raise K3sAgentError("%s exists and is not a regular file (%s): move it away first" % (path, have.get("type")))
    content = not have.get("exists") or have.get("text") != want_text
    meta = have.get("exists") and (have.get("mode") != want_mode or have.get("uid") != 0 or have.get("gid") != 0)
    if not content and not meta:
        return None
    change = {"path": path, "action": "create" if not have.get("exists") else ("update" if content else "mode"),
              "mode": "%04o" % want_mode, "secret": secret}
    if content:
        change["text"] = want_text
        change["before"] = have.get("text") if have.get("exists") else None
    return change


def plan_present(desired, state, secret_paths=(TOKEN_PATH,)):
    """Changes that make the files ``desired`` (path -> (text, mode)) given ``state`` (path -> read_state entry).

    Returns a list of ``{path, action (create|update|mode), mode, secret, text?}`` in the order of ``desired``.
    """
    changes = []
    for path, (text, mode) in desired.items():
        change = _file_change(path, text, mode, state.get(path, {"exists": False}), path in secret_paths)
        if change:
            changes.append(change)
    return changes


def binary_change(path, have, want_sha256, have_sha256, source=None):
    """The change installing the k3s binary (root 0755) whose sha256 is ``want_sha256``, or None.

    ``have`` is :func:`read_state`'s entry for ``path``, ``have_sha256`` its sha256 (None when missing).
    ``source`` is a file on the node holding the new binary (sent by the action plugin); a content change
    without it carries ``source: None`` (the caller sends the file first, or only reports in check mode).
    """
    if have.get("exists") and have.get("type") != "file":
        raise K3sAgentError("%s exists and is not a regular file (%s): move it away first" % (path, have.get("type")))
    content = not have.get("exists") or have_sha256 != want_sha256
    meta = have.get("exists") and (have.get("mode") != 0o755 or have.get("uid") != 0 or have.get("gid") != 0)
    if not content and not meta:
        return None
    change = {"path": path, "action": "create" if not have.get("exists") else ("update" if content else "mode"),
              "mode": "0755", "secret": False}
    if content:
        change.update(source=source, sha256=want_sha256, before_sha256=have_sha256)
    return change


def missing_dirs(dirs, state):
    """The directories of ``dirs`` that do not exist (they will be created, root 0755); refuses non-directories."""
    out = []
    for path in dirs:
        have = state.get(path, {"exists": False})
        if not have.get("exists"):
            out.append(path)
        elif have.get("type") != "directory":
            raise K3sAgentError("%s exists and is not a directory: move it away first" % path)
    return out


def load_record(text):
    """The role's record (JSON) as a dict; {} when absent or unreadable (a broken record is rewritten)."""
    if not text:
        return {}
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def merge_record(previous, binary_missing, created_dirs):
    """The record after this run: the binary counts as the role's once it was missing when the role ran, and every
    directory the role ever created is kept (sorted, so that the record does not change between runs)."""
    return {
        "distribution": "k3s",
        "binary_installed": bool(previous.get("binary_installed")) or bool(binary_missing),
        "created_dirs": sorted(set(previous.get("created_dirs") or []) | set(created_dirs)),
    }


def record_text(record):
    return json.dumps(record, indent=4, sort_keys=True) + "\n"


def plan_record(previous_text, record, have, path=RECORD_PATH):
    """The change writing the record, or None when the file holds the same data (compared as data, not text)."""
    if previous_text is not None and load_record(previous_text) == record and have.get("mode") == 0o644 \
            and have.get("uid") == 0 and have.get("gid") == 0:
        return None
    return {"path": path, "action": "create" if previous_text is None else "update", "mode": "0644",
            "secret": False, "text": record_text(record), "before": previous_text}


def missing_parents(paths, state_of):
    """Directories above ``paths`` that do not exist, outermost first (what ``mkdir -p`` would create)."""
    out = []
    for path in paths:
        chain = []
        directory = os.path.dirname(path)
        while directory and directory != os.path.dirname(directory) and not state_of(directory).get("exists"):
            chain.append(directory)
            directory = os.path.dirname(directory)
        for directory in reversed(chain):
            if directory not in out:
                out.append(directory)
    return out


def plan_absent(record, state, binary=BINARY, paths=(UNIT_PATH, CONFIG_PATH, TOKEN_PATH), record_path=RECORD_PATH):
    """What state=absent removes: the unit, config and token file; the binary only when the record says the role
    installed it; the record; then the directories the role created and the record's directory when empty.

    Returns ``(files, dirs)``: files that exist (to delete), directories to remove if empty (deepest first).
    """
    candidates = list(paths)
    if record.get("binary_installed"):
        candidates.append(binary)
    candidates.append(record_path)
    files = [path for path in candidates if state.get(path, {}).get("exists")]
    dirs = sorted(set(record.get("created_dirs") or []) | set([os.path.dirname(record_path)]), reverse=True)
    return files, [path for path in dirs if state.get(path, {}).get("exists")]


def diff_entries(changes, removed=()):
    """``--diff`` entries for the changes; the token file's text is a placeholder on both sides."""
    out = []
    for change in changes:
        if "sha256" in change:
            # a binary: its checksums, not its bytes
            out.append({
                "before_header": change["path"] if change["action"] != "create" else "%s (absent)" % change["path"],
                "after_header": change["path"],
                "before": "sha256 %s\n" % change["before_sha256"] if change.get("before_sha256") else "",
                "after": "sha256 %s\n" % change["sha256"],
            })
            continue
        if "text" not in change:
            continue
        secret = change["secret"]
        before = change.get("before")
        out.append({
            "before_header": change["path"] if change["action"] != "create" else "%s (absent)" % change["path"],
            "after_header": change["path"],
            "before": (HIDDEN if before is not None else "") if secret else (before or ""),
            "after": HIDDEN.replace("not shown", "changed, not shown") if secret else change["text"],
        })
    for path, before, secret in removed:
        out.append({"before_header": path, "after_header": "%s (absent)" % path,
                    "before": HIDDEN if secret else (before or ""), "after": ""})
    return out


# --- I/O ------------------------------------------------------------------------------------------------------


def read_state(paths, text_paths, lstat=os.lstat):
    """path -> ``{exists, type, mode (int), uid, gid, mtime, text?}``; ``text`` for regular files in ``text_paths``."""
    out = {}
    for path in paths:
        try:
            info = lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            out[path] = {"exists": False}
            continue
        kind = "file" if stat.S_ISREG(info.st_mode) else "directory" if stat.S_ISDIR(info.st_mode) else \
            "link" if stat.S_ISLNK(info.st_mode) else "other"
        entry = {"exists": True, "type": kind, "mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid,
                 "gid": info.st_gid, "mtime": info.st_mtime}
        if kind == "file" and path in text_paths:
            with open(path, "rb") as handle:
                data = handle.read()
            try:
                entry["text"] = data.decode("utf-8")
            except UnicodeDecodeError:
                entry["text"] = None
        out[path] = entry
    return out


def file_sha256(path):
    """The sha256 (hex) of the file at ``path``, or None when it does not exist."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def install_file(source, path, mode, sha256, uid=0, gid=0):
    """Copy the file ``source`` to ``path`` atomically (a temporary file with ``mode`` in the same directory, then
    renamed over), after checking that it holds ``sha256``: a damaged transfer never replaces the binary."""
    actual = file_sha256(source)
    if actual != sha256:
        raise K3sAgentError("the k3s binary sent to %s has sha256 %s, expected %s; %s is unchanged"
                            % (source, actual, sha256, path))
    with open(source, "rb") as src:
        _replace(path, mode, uid, gid, lambda handle: shutil.copyfileobj(src, handle, 1 << 20))


def write_file(path, text, mode, uid=0, gid=0):
    """Write ``text`` to ``path`` atomically: a temporary file in the same directory, created with ``mode`` (so a
    secret is never readable by others, not even for a moment), owned by uid:gid, synced, then renamed over."""
    _replace(path, mode, uid, gid, lambda handle: handle.write(text.encode("utf-8")))


def _replace(path, mode, uid, gid, fill):
    """A temporary file in ``path``'s directory with ``mode`` and uid:gid, filled by ``fill(handle)``, synced, then
    renamed over ``path``; removed again on any failure."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        if (os.fstat(fd).st_uid, os.fstat(fd).st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
        with os.fdopen(fd, "wb") as handle:
            fd = None
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def set_meta(path, mode, uid=0, gid=0):
    info = os.lstat(path)
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)


def apply_present(dirs, changes, uid=0, gid=0, done=None):
    """Create ``dirs`` (0755) and apply ``changes``; returns the paths done, in order (also appended to ``done``
    as they are done, so that a caller can say what was done before an error)."""
    done = [] if done is None else done
    for path in dirs:
        os.mkdir(path, 0o755)
        set_meta(path, 0o755, uid, gid)
        done.append(path)
    for change in changes:
        mode = int(change["mode"], 8)
        if "sha256" in change:
            install_file(change["source"], change["path"], mode, change["sha256"], uid, gid)
        elif "text" in change:
            write_file(change["path"], change["text"], mode, uid, gid)
        else:
            set_meta(change["path"], mode, uid, gid)
        done.append(change["path"])
    return done


def empty_after(directory, removed, listdir=os.listdir):
    """Whether ``directory`` holds nothing but paths in ``removed`` (so it would be empty after removing them)."""
    try:
        names = listdir(directory)
    except OSError:
        return False
    return all(os.path.join(directory, name) in removed for name in names)


def apply_absent(files, dirs, removed=None):
    """Delete ``files``, then remove each of ``dirs`` that is empty; returns the paths removed (also appended to
    ``removed`` as they go)."""
    removed = [] if removed is None else removed
    for path in files:
        os.remove(path)
        removed.append(path)
    for path in dirs:
        if os.path.isdir(path) and not os.listdir(path):
            os.rmdir(path)
            removed.append(path)
    return removed
