# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""Plan the files that register the NVIDIA runtime with a container engine.

Plain Python (3.8+), no Ansible imports: every ``plan_*`` function takes the
current text of each file it may touch (``None`` for a missing file) and
returns a :class:`Plan` listing the files to create, rewrite or delete and a
summary. Nothing here reads or writes the disk, except that
:func:`containerd_import_order` takes a ``glob`` callable.

TOML is read only with ``tomllib`` (Python 3.11+) or its backport ``tomli``;
there is no TOML parser here. Edits of files we do not own are small text
edits located with the parser (each statement is parsed on its own), and
every result is parsed again and compared, as data, with what was intended
before it is handed back. Files we own are written by :func:`dumps_toml` and
parsed back before use.

Facts this relies on (checked with the real binaries of Debian's containerd
1.6.20, 1.7.24 and 2.1.9, ``containerd --config FILE config dump``):

* A config without ``version`` is read as version 1 (plugin ``cri``). This
  module refuses version 1: convert it to version 2 first.
* containerd 1.x merges an imported file over the main config *plugin by
  plugin*: a drop-in that defines ``plugins."io.containerd.grpc.v1.cri"``
  replaces the whole CRI section of the main config (runc's
  ``SystemdCgroup = true`` and the runc runtime itself are lost; with no runc
  runtime left, the CRI plugin fails to load: "no corresponding runtime
  configured in `containerd.runtimes` for `containerd` `default_runtime_name =
  "runc"`"). A version 2 drop-in therefore carries a copy of the CRI section
  of the files loaded before it, plus the nvidia runtime. containerd 2.x
  merges tables key by key, so a version 3 drop-in holds only our keys.
* Version 3 (containerd 2.x) keeps runtimes, ``default_runtime_name`` and
  ``enable_cdi`` under ``plugins."io.containerd.cri.v1.runtime"`` (output of
  ``containerd config default`` of 2.1.9, see the test fixtures).
* Declaring a TOML table twice is fatal for every containerd version
  ("duplicated tables" / "table ... already exists"), which matters for the
  k3s base template (see :func:`plan_k3s`).
"""

from __future__ import annotations

import copy
import datetime
import fnmatch
import json
import math
import posixpath
import re
import sys

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import RuntimeConfigError

try:
    import tomllib as _toml  # Python 3.11+
except ImportError:  # pragma: no cover - depends on the target's Python
    try:
        import tomli as _toml  # the backport, python3-tomli on RHEL 9 / Ubuntu 22.04
    except ImportError as _exc:
        _toml = None
        TOML_IMPORT_ERROR = _exc
    else:
        TOML_IMPORT_ERROR = None
else:
    TOML_IMPORT_ERROR = None

HAS_TOML = _toml is not None

#: The package to install when :data:`HAS_TOML` is false.
TOML_PACKAGE = "tomli"
TOML_INSTALL_HINT = (
    "Python %s has no tomllib (it came with Python 3.11): install the tomli backport, "
    "package python3-tomli (dnf/apt), or use a Python >= 3.11 as ansible_python_interpreter."
)

ENGINES = ("containerd", "k3s", "microk8s", "docker")

#: MicroK8s's args directory: the template this module edits and the config MicroK8s renders from it.
MICROK8S_ARGS = "/var/snap/microk8s/current/args"
MICROK8S_RENDERED_CONFIG = MICROK8S_ARGS + "/containerd.toml"
#: k3s's own config (node-ip, default-runtime, labels): its change needs a k3s restart too.
K3S_AGENT_CONFIG = "/etc/rancher/k3s/config.yaml"

DEFAULT_CONFIG_PATHS = {
    "containerd": "/etc/containerd/config.toml",
    "k3s": "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
    "microk8s": MICROK8S_ARGS + "/containerd-template.toml",
    "docker": "/etc/docker/daemon.json",
}

DEFAULT_RUNTIME_NAME = "nvidia"
RUNTIME_BINARY = "nvidia-container-runtime"
DEFAULT_RUNTIME_PATH = "/usr/bin/" + RUNTIME_BINARY
RUNTIME_TYPE = "io.containerd.runc.v2"

#: CRI plugin that holds runtimes, default_runtime_name and enable_cdi, by config version.
CRI_PLUGIN = {
    2: "io.containerd.grpc.v1.cri",
    3: "io.containerd.cri.v1.runtime",
}

#: The same, for reading any file containerd accepts (config version 1 names the plugin "cri").
CRI_PLUGIN_ANY_VERSION = dict([(1, "cri")] + sorted(CRI_PLUGIN.items()))
#: containerd's default cdi_spec_dirs (containerd 1.7 and 2.x); nvidia-ctk writes to the second.
CDI_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi")

DROPIN_DIR = "conf.d"
DROPIN_NAME = "99-nvidia.toml"

K3S_TEMPLATE = {2: "config.toml.tmpl", 3: "config-v3.toml.tmpl"}
K3S_DROPIN_DIR = {2: "config.toml.d", 3: "config-v3.toml.d"}
K3S_BASE_CALL = '{{ template "base" . }}'

MARK = "homelab.gpu_node.containerd_nvidia_runtime"
#: First line of every file this module owns completely.
OWNED_HEADER = "# Managed by %s: do not edit, the next run rewrites this file." % MARK
#: Trailing comment on a line we added to a file we do not own.
ADDED_COMMENT = "# added by %s" % MARK
#: Trailing comment on a line whose value we changed; the old value follows.
WAS_COMMENT = "# %s: was " % MARK
ABSENT = "<absent>"
BLOCK_BEGIN = "# BEGIN %s" % MARK
BLOCK_END = "# END %s" % MARK
CREATED_HEADER = "# Created by %s: there was no containerd config file." % MARK


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

class RuntimeOptions(object):
    """What the user asked for (the module's options)."""

    def __init__(self, runtime_name=DEFAULT_RUNTIME_NAME, runtime_path=DEFAULT_RUNTIME_PATH,
                 set_as_default=False, cdi=False, state="present", k3s_template_version=None):
        if state not in ("present", "absent"):
            raise RuntimeConfigError("state must be present or absent, not %r" % (state,))
        if not runtime_name:
            raise RuntimeConfigError("runtime_name must not be empty")
        for option, value in (("runtime_name", runtime_name), ("runtime_path", runtime_path)):
            check_no_control_chars(option, value)
        if k3s_template_version not in (None, 2, 3):
            raise RuntimeConfigError("k3s_template_version must be 2 or 3, not %r" % (k3s_template_version,))
        self.runtime_name = runtime_name
        self.runtime_path = runtime_path
        self.set_as_default = bool(set_as_default)
        self.cdi = bool(cdi)
        self.state = state
        self.k3s_template_version = k3s_template_version

    @property
    def present(self):
        return self.state == "present"


def check_no_control_chars(option, value):
    """Refuse control characters (newline, tab, NUL, DEL, ...) in a name or path that goes into a config file."""
    bad = sorted(set(char for char in (value or "") if ord(char) < 0x20 or ord(char) == 0x7F))
    if bad:
        raise RuntimeConfigError("%s must not contain control characters (found %s in %r)"
                                 % (option, ", ".join("U+%04X" % ord(char) for char in bad), value))


class FileChange(object):
    """One file to write: ``before``/``after`` are texts, ``None`` = missing."""

    def __init__(self, path, before, after):
        self.path = path
        self.before = before
        self.after = after

    @property
    def action(self):
        if self.before is None:
            return "create"
        if self.after is None:
            return "delete"
        return "update"

    def as_dict(self):
        return {"path": self.path, "action": self.action}

    def __repr__(self):
        return "FileChange(%r, %s)" % (self.path, self.action)


class Plan(object):
    """Files to change (only real changes), a summary and warnings."""

    def __init__(self, engine):
        self.engine = engine
        self.changes = []
        self.summary = {"engine": engine}
        self.warnings = []

    @property
    def changed(self):
        return bool(self.changes)

    def change(self, path):
        for item in self.changes:
            if item.path == path:
                return item
        return None

    def add(self, path, before, after, same=None):
        """Record a change unless ``same(before, after)`` says the meaning is unchanged."""
        if before is None and after is None:
            return
        if before is not None and after is not None:
            if before == after or (same is not None and same(before, after)):
                return
        self.changes.append(FileChange(path, before, after))

    def as_dict(self):
        return {
            "engine": self.engine,
            "changed": self.changed,
            "files": [c.as_dict() for c in self.changes],
            "summary": self.summary,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------
# TOML: parse with tomllib/tomli, emit the small TOML we own
# --------------------------------------------------------------------------

def _require_toml():
    if not HAS_TOML:
        raise RuntimeConfigError(TOML_INSTALL_HINT % sys.version.split()[0])


def parse_toml(text, path):
    """Parse ``text`` (the content of ``path``) or raise RuntimeConfigError naming the file."""
    _require_toml()
    try:
        return _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise RuntimeConfigError("%s is not valid TOML: %s" % (path, exc))


def _toml_ok(text):
    try:
        return _toml.loads(text)
    except _toml.TOMLDecodeError:
        return None


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(value):
    """A TOML basic string with every character that needs it escaped."""
    out = ['"']
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("\\u%04X" % ord(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_key(key):
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_key_path(path):
    return ".".join(toml_key(part) for part in path)


def toml_value(value):
    """Render one TOML value (inline form)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join("%s = %s" % (toml_key(k), toml_value(v)) for k, v in value.items()) + "}"
    raise RuntimeConfigError("cannot write %r (%s) as TOML" % (value, type(value).__name__))


def _emit_table(lines, path, table):
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, dict)]
    if path and (scalars or not tables):
        if lines:
            lines.append("")
        lines.append("[%s]" % toml_key_path(path))
    indent = "  " if path else ""
    for key, value in scalars:
        lines.append("%s%s = %s" % (indent, toml_key(key), toml_value(value)))
    for key, value in tables:
        _emit_table(lines, path + [key], value)


def dumps_toml(data, comments=()):
    """Write ``data`` as TOML (tables as headers, arrays inline) and check it parses back equal."""
    _require_toml()
    lines = list(comments)
    _emit_table(lines, [], data)
    text = "\n".join(lines) + "\n"
    if _toml.loads(text) != data:  # pragma: no cover - a bug here must never reach a config file
        raise RuntimeConfigError("internal error: the generated TOML does not read back as intended")
    return text


# --------------------------------------------------------------------------
# Locating statements in TOML text we do not own
# --------------------------------------------------------------------------

class _Stmt(object):
    """A run of lines that parses on its own: blank/comment, [header], [[header]] or key = value."""

    __slots__ = ("start", "end", "kind", "path", "data")

    def __init__(self, start, end, kind, path, data):
        self.start = start
        self.end = end
        self.kind = kind
        self.path = path
        self.data = data


def _single_path(data):
    path = []
    node = data
    while isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        path.append(key)
        node = node[key]
        if isinstance(node, list) and len(node) == 1 and node[0] == {}:
            break
    return tuple(path)


def _statements(lines, path_for_errors):
    """Split ``lines`` (a valid TOML document) into statements using the parser only."""
    stmts = []
    i = 0
    count = len(lines)
    while i < count:
        j = i + 1
        buf = lines[i]
        data = _toml_ok(buf)
        while data is None and j < count:
            buf += lines[j]
            j += 1
            data = _toml_ok(buf)
        if data is None:
            raise RuntimeConfigError("%s: cannot locate the statement at line %d" % (path_for_errors, i + 1))
        head = buf.lstrip()
        if not data:
            kind, path = "blank", ()
        elif head.startswith("[["):
            kind, path = "aheader", _single_path(data)
        elif head.startswith("["):
            kind, path = "header", _single_path(data)
        else:
            kind, path = "kv", (next(iter(data)),) if len(data) == 1 else tuple(data)
        stmts.append(_Stmt(i, j, kind, path, data))
        i = j
    return stmts


class _Doc(object):
    """Text of a TOML file we edit in place; every edit keeps the other lines as they are."""

    def __init__(self, text, path):
        self.path = path
        self.lines = text.splitlines(True)
        self.stmts = _statements(self.lines, path)

    def text(self):
        return "".join(self.lines)

    def _reparse(self):
        self.stmts = _statements(self.lines, self.path)

    def header(self, table):
        for index, stmt in enumerate(self.stmts):
            if stmt.kind == "header" and stmt.path == tuple(table):
                return index
        return None

    def region(self, table):
        """(first, last) statement indexes of the table's own keys; None if not a [header] table."""
        if not table:
            start = 0
        else:
            index = self.header(table)
            if index is None:
                return None
            start = index + 1
        end = start
        while end < len(self.stmts) and self.stmts[end].kind not in ("header", "aheader"):
            end += 1
        return start, end

    def find_kv(self, table, key):
        region = self.region(table)
        if region is None:
            return None
        for index in range(region[0], region[1]):
            stmt = self.stmts[index]
            if stmt.kind == "kv" and stmt.path == (key,):
                return index
        return None

    def stmt_text(self, index):
        stmt = self.stmts[index]
        return "".join(self.lines[stmt.start:stmt.end])

    def replace_stmt(self, index, new_text):
        stmt = self.stmts[index]
        self.lines[stmt.start:stmt.end] = new_text.splitlines(True)
        self._reparse()

    def delete_stmt(self, index):
        self.replace_stmt(index, "")

    def _ensure_final_newline(self):
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"

    def append_text(self, text):
        self._ensure_final_newline()
        self.lines.extend(text.splitlines(True))
        self._reparse()

    def insert_kv(self, table, line_text, after_key=None):
        """Insert ``line_text`` (one ``key = value`` line, no indent) into an existing [table] or the root."""
        region = self.region(table)
        if region is None:
            raise RuntimeConfigError("%s: table [%s] is not declared" % (self.path, toml_key_path(table)))
        start, end = region
        kvs = [i for i in range(start, end) if self.stmts[i].kind == "kv"]
        if after_key is not None:
            anchor = [i for i in kvs if self.stmts[i].path == (after_key,)]
            if anchor:
                kvs = kvs[:kvs.index(anchor[0]) + 1]
        if kvs:
            ref = self.stmts[kvs[-1]]
            first_line = self.lines[self.stmts[kvs[0]].start]
            indent = first_line[:len(first_line) - len(first_line.lstrip())]
            pos = ref.end
        elif table:
            hdr = self.stmts[start - 1]
            first_line = self.lines[hdr.start]
            indent = first_line[:len(first_line) - len(first_line.lstrip())] + "  "
            pos = hdr.end
        else:
            indent = ""
            pos = 0
        if pos > 0 and not self.lines[pos - 1].endswith("\n"):
            self.lines[pos - 1] += "\n"
        self.lines[pos:pos] = [indent + line_text + "\n"]
        self._reparse()

    def line_indent(self, index):
        line = self.lines[self.stmts[index].start]
        return line[:len(line) - len(line.lstrip())]


def _get(data, path, default=None):
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def _set(data, path, value):
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _deep_merge(base, extra):
    """containerd 2.x semantics: tables merged key by key, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_imported(main, imported):
    """The config containerd builds from a main config and its imports (parsed dicts, in load order).

    containerd 1.x (version 1/2) replaces a whole plugin section with the one of a later
    file; containerd 2.x (version 3) merges key by key.
    """
    result = copy.deepcopy(main)
    version = main.get("version", 1)
    for data in imported:
        if isinstance(version, int) and not isinstance(version, bool) and version >= 3:
            result = _deep_merge(result, data)
            continue
        for key, value in data.items():
            if key == "plugins" and isinstance(value, dict) and isinstance(result.get("plugins"), dict):
                for name, section in value.items():
                    result["plugins"][name] = copy.deepcopy(section)
            else:
                result[key] = copy.deepcopy(value)
    return result


def _set_key_marked(doc, table, key, value):
    """Set ``table.key = value`` in place, remembering the old value in a trailing comment."""
    literal = toml_value(value)
    index = doc.find_kv(table, key)
    if index is not None:
        old_text = doc.stmt_text(index)
        if WAS_COMMENT in old_text:  # ours already: keep the first remembered value
            remembered = old_text[old_text.rindex(WAS_COMMENT) + len(WAS_COMMENT):].strip()
        else:
            if doc.stmts[index].end - doc.stmts[index].start != 1 or isinstance(doc.stmts[index].data[key], dict):
                raise RuntimeConfigError("%s: %s.%s spans several lines; set it to %s by hand"
                                         % (doc.path, toml_key_path(table), key, literal))
            # remember the value as written (with any comment after it), so that a restore is exact
            remembered = old_text.rstrip("\n").split("=", 1)[1].strip()
            if _toml_ok("x = " + remembered) != {"x": doc.stmts[index].data[key]}:
                remembered = toml_value(doc.stmts[index].data[key])
        doc.replace_stmt(index, "%s%s = %s  %s%s\n" % (
            doc.line_indent(index), toml_key(key), literal, WAS_COMMENT, remembered))
    elif table and doc.header(table) is None:
        # a new table, or one only created implicitly by its sub-tables: a header may follow them
        doc.append_text("\n[%s]  %s\n  %s = %s  %s%s\n" % (
            toml_key_path(table), ADDED_COMMENT, toml_key(key), literal, WAS_COMMENT, ABSENT))
    else:
        doc.insert_kv(table, "%s = %s  %s%s" % (toml_key(key), literal, WAS_COMMENT, ABSENT))


def _restore_marked(doc):
    """Undo every ``_set_key_marked`` edit: put back the remembered values, drop added tables."""
    while True:
        for index, stmt in enumerate(doc.stmts):
            text = doc.stmt_text(index)
            if stmt.kind == "kv" and WAS_COMMENT in text:
                remembered = text[text.rindex(WAS_COMMENT) + len(WAS_COMMENT):].strip()
                if remembered == ABSENT:
                    doc.delete_stmt(index)
                else:
                    doc.replace_stmt(index, "%s%s = %s\n" % (
                        doc.line_indent(index), toml_key(stmt.path[0]), remembered))
                break
            if stmt.kind == "header" and ADDED_COMMENT in text:
                region = doc.region(stmt.path)
                if region[1] - region[0] == 0 or all(doc.stmts[i].kind == "blank" for i in range(*region)):
                    # drop the header and the blank line we put before it
                    first = index - 1 if index > 0 and doc.stmt_text(index - 1) == "\n" else index
                    del doc.lines[doc.stmts[first].start:doc.stmts[index].end]
                    doc._reparse()
                    break
        else:
            return


def _check_edit(path, new_text, expected):
    """Parse the edited text and compare it with the intended data; never hand back a broken file."""
    got = _toml_ok(new_text)
    if got is None:
        raise RuntimeConfigError("%s: the edit would not be valid TOML; nothing was changed" % path)
    if got != expected:
        raise RuntimeConfigError("%s: the edit would change more than intended; nothing was changed" % path)
    return got


# --------------------------------------------------------------------------
# containerd
# --------------------------------------------------------------------------

def config_version(data, path):
    """containerd's reading of ``version``: missing means 1 (as containerd and nvidia-ctk read it)."""
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise RuntimeConfigError("%s: version must be an integer, not %r" % (path, version))
    if version not in CRI_PLUGIN:
        if version == 1:
            raise RuntimeConfigError(
                "%s has no version = 2 or 3, so containerd reads it as config version 1 (plugin names like "
                "plugins.cri), which cannot import drop-in files the way this module needs. Convert it first: "
                "containerd 1.x `containerd config default` prints a version 2 file, containerd 2.x "
                "`containerd config migrate` converts it to version 3." % path)
        raise RuntimeConfigError("%s: unsupported containerd config version %r (known: 2, 3)" % (path, version))
    return version


def containerd_dropin_path(main_path):
    return posixpath.join(posixpath.dirname(main_path), DROPIN_DIR, DROPIN_NAME)


def engine_read_files(engine, config_path):
    """The files this module manages that ``engine`` reads when it starts.

    Not k3s's generated config.toml: k3s writes it itself at every start.
    """
    if engine == "containerd":
        return [config_path, containerd_dropin_path(config_path)]
    if engine == "k3s":
        return k3s_paths(config_path)[1:]
    return [config_path]


def _resolve_import(main_path, entry):
    entry = posixpath.normpath(entry)
    if not posixpath.isabs(entry):
        entry = posixpath.normpath(posixpath.join(posixpath.dirname(main_path), entry))
    return entry


def _glob_match(pattern, path):
    """Go filepath.Match semantics: wildcards never cross a '/'."""
    pattern_parts = pattern.split("/")
    path_parts = path.split("/")
    if len(pattern_parts) != len(path_parts):
        return False
    return all(fnmatch.fnmatchcase(name, pat) for pat, name in zip(pattern_parts, path_parts))


def import_covers(main_path, entry, target):
    """Does one ``imports`` entry of ``main_path`` load ``target``? (containerd globs only on '*')"""
    resolved = _resolve_import(main_path, entry)
    if "*" in resolved:
        return _glob_match(resolved, posixpath.normpath(target))
    return resolved == posixpath.normpath(target)


def _imports_of(data, path):
    imports = data.get("imports", [])
    if not isinstance(imports, list) or not all(isinstance(item, str) for item in imports):
        raise RuntimeConfigError("%s: imports must be a list of strings, not %r" % (path, imports))
    return imports


def containerd_import_order(main_path, main_text, glob):
    """Files containerd loads after ``main_path``, in its order (top level only; globs via ``glob``).

    The drop-in is listed where containerd will load it even before it exists.
    """
    if main_text is None:
        return []
    data = parse_toml(main_text, main_path)
    dropin = containerd_dropin_path(main_path)
    order = []
    for entry in _imports_of(data, main_path):
        resolved = _resolve_import(main_path, entry)
        if "*" in resolved:
            matches = set(glob(resolved))
            if _glob_match(resolved, dropin):
                matches.add(dropin)
            matches = sorted(matches)
        else:
            matches = [resolved]
        for match in matches:
            if match not in order and match != main_path:
                order.append(match)
    return order


def _find_runtime_template(cri, exclude):
    """Options to copy into the nvidia runtime: default runtime, else runc, else crun (as nvidia-ctk)."""
    runtimes = _get(cri, ("containerd", "runtimes"), {}) or {}
    names = []
    default = _get(cri, ("containerd", "default_runtime_name"))
    if isinstance(default, str) and default and not default.startswith("nvidia") and default != exclude:
        names.append(default)
    names.extend(["runc", "crun"])
    for name in names:
        if isinstance(runtimes.get(name), dict):
            return name, copy.deepcopy(runtimes[name])
    return None, {}


def nvidia_runtime_table(cri, runtime_name, runtime_path):
    """The runtime table: the default runtime's settings (SystemdCgroup, ...) + runc.v2 + BinaryName."""
    source, table = _find_runtime_template(cri, runtime_name)
    table["runtime_type"] = RUNTIME_TYPE
    options = table.get("options")
    if not isinstance(options, dict):
        options = {}
    options["BinaryName"] = runtime_path
    table["options"] = options
    return source, table


def _edit_imports_stmt(doc, index, new_list, literals):
    """Edit the text of an ``imports = [...]`` statement in place; keep the first variant that parses right."""
    text = doc.stmt_text(index)
    old_list = doc.stmts[index].data["imports"]
    candidates = []
    if len(new_list) > len(old_list):
        # a multi-line array: a new element line before the line holding the closing bracket
        match = re.search(r"\n([ \t]*)\][^\n]*\n?$", text)
        if match:
            lines = text[:match.start() + 1].splitlines(True)
            last = lines[-1] if len(lines) > 1 else ""
            indent = last[:len(last) - len(last.lstrip())] if last.strip() else match.group(1) + "  "
            candidates.append(text[:match.start() + 1] + indent + literals[0] + ",\n" + text[match.start() + 1:])
        for match in reversed(list(re.finditer(r"\]", text))):
            prefix = text[:match.start()]
            stripped = prefix.rstrip()
            sep = "" if stripped.endswith("[") else (" " if stripped.endswith(",") else ", ")
            candidates.append(stripped + sep + literals[0] + prefix[len(stripped):] + text[match.start():])
    else:
        for literal in literals:
            line = re.search(r"\n[ \t]*" + re.escape(literal) + r",?[ \t]*(?=\n)", text)
            if line:
                candidates.append(text[:line.start()] + text[line.end():])
            for pattern in (", " + literal, "," + literal, literal + ", ", literal + ",", literal):
                start = text.find(pattern)
                while start != -1:
                    candidates.append(text[:start] + text[start + len(pattern):])
                    start = text.find(pattern, start + 1)
    for candidate in candidates:
        if _toml_ok(candidate) == {"imports": new_list}:
            doc.replace_stmt(index, candidate)
            return
    doc.replace_stmt(index, "%simports = %s\n" % (doc.line_indent(index), toml_value(new_list)))


def _edit_main_imports(main_path, main_text, main_data, dropin_path, present):
    """Add or remove the drop-in in the main config's ``imports``; return the new text (or the same)."""
    imports = _imports_of(main_data, main_path)
    covered = [entry for entry in imports if import_covers(main_path, entry, dropin_path)]
    exact = [entry for entry in imports if "*" not in entry and import_covers(main_path, entry, dropin_path)]
    doc = _Doc(main_text, main_path)
    expected = copy.deepcopy(main_data)
    if present:
        if covered:
            return main_text
        new_list = imports + [dropin_path]
        expected["imports"] = new_list
        index = doc.find_kv((), "imports")
        if index is None:
            line = "imports = %s  %s" % (toml_value([dropin_path]), ADDED_COMMENT)
            doc.insert_kv((), line, after_key="version")
        else:
            _edit_imports_stmt(doc, index, new_list, [toml_string(dropin_path)])
    else:
        if not exact:
            return main_text
        new_list = [entry for entry in imports if entry not in exact]
        expected["imports"] = new_list
        index = doc.find_kv((), "imports")
        if ADDED_COMMENT in doc.stmt_text(index) and not new_list:
            doc.delete_stmt(index)
            expected.pop("imports")
        else:
            for entry in exact:
                index = doc.find_kv((), "imports")
                remaining = [item for item in doc.stmts[index].data["imports"] if item != entry]
                _edit_imports_stmt(doc, index, remaining, [toml_string(entry), "'%s'" % entry])
    new_text = doc.text()
    _check_edit(main_path, new_text, expected)
    return new_text


def plan_containerd(main_path, main_text, dropin_text, options, imported=()):
    """Plan the drop-in ``conf.d/99-nvidia.toml`` beside ``main_path`` and the main config's import of it.

    ``imported``: ``(path, text)`` of the other files the main config imports, in containerd's load
    order (see :func:`containerd_import_order`); files before the drop-in feed the copied CRI section,
    files after it only produce warnings. Nested imports are not followed.
    """
    plan = Plan("containerd")
    dropin_path = containerd_dropin_path(main_path)
    summary = plan.summary
    summary.update(config_path=main_path, dropin_path=dropin_path, runtime_name=options.runtime_name,
                   state=options.state)

    main_data = parse_toml(main_text, main_path) if main_text is not None else None
    if dropin_text is not None:
        parse_toml(dropin_text, dropin_path)  # a broken drop-in is reported, never silently replaced
    empty_main = main_data is not None and not main_data

    if not options.present:
        # The import goes first, then the drop-in: a main config that imports a missing file stops
        # containerd, so if the main config cannot be written the drop-in must still be there.
        if main_text is not None:
            new_main = _edit_main_imports(main_path, main_text, main_data, dropin_path, present=False)
            if new_main == _created_main_text(dropin_path, with_import=False):
                new_main = None  # the file was created by this module: remove it again
            plan.add(main_path, main_text, new_main)
        plan.add(dropin_path, dropin_text, None)
        summary["import_removed"] = plan.change(main_path) is not None
        return plan

    version = 2 if (main_data is None or empty_main) else config_version(main_data, main_path)
    plugin = CRI_PLUGIN[version]
    summary.update(config_version=version, cri_plugin=plugin)

    # The files containerd loads before our drop-in, merged (containerd 2.x reading).
    order = [path for path, _text in imported]
    base = copy.deepcopy(main_data or {})
    after = []
    position = order.index(dropin_path) if dropin_path in order else len(order)
    for index, (path, text) in enumerate(imported):
        if path == dropin_path or text is None:
            continue
        data = parse_toml(text, path)
        if index < position:
            base = _deep_merge(base, data)
        elif _get(data, ("plugins", plugin)) is not None:
            after.append(path)
    for path in after:
        plan.warnings.append("%s is loaded after %s and also sets plugins.%s; its values win over ours"
                             % (path, dropin_path, toml_string(plugin)))
    base_cri = _get(base, ("plugins", plugin), {}) or {}
    if not isinstance(base_cri, dict):
        raise RuntimeConfigError("%s: plugins.%s must be a table" % (main_path, toml_string(plugin)))

    source, runtime = nvidia_runtime_table(base_cri, options.runtime_name, options.runtime_path)
    summary["runtime_options_from"] = source
    if version == 2:
        # containerd 1.x replaces the whole plugin section with ours: carry everything over.
        cri = copy.deepcopy(base_cri)
        runtimes = cri.setdefault("containerd", {}).setdefault("runtimes", {})
        default = _get(cri, ("containerd", "default_runtime_name")) or "runc"
        if default not in runtimes and default != options.runtime_name:
            if default != "runc":
                plan.warnings.append("default_runtime_name %r has no runtime table in %s" % (default, main_path))
            else:
                runtimes["runc"] = {"runtime_type": RUNTIME_TYPE}
        summary["copied_cri_section"] = True
    else:
        cri = {}
        summary["copied_cri_section"] = False
    _set(cri, ("containerd", "runtimes", options.runtime_name), runtime)
    if options.set_as_default:
        _set(cri, ("containerd", "default_runtime_name"), options.runtime_name)
    if options.cdi:
        cri["enable_cdi"] = True
        # the directories of the files loaded before, plus containerd's defaults where missing, so
        # that a config that narrowed them cannot hide the spec nvidia-ctk writes to /var/run/cdi
        cri["cdi_spec_dirs"] = cdi_spec_dirs(base_cri.get("cdi_spec_dirs"))
    dropin_data = {"version": version, "plugins": {plugin: cri}}
    comments = [
        OWNED_HEADER,
        "# Registers runtime %s (%s) with containerd; imported by %s." % (
            options.runtime_name, options.runtime_path, main_path),
    ]
    if version == 2:
        comments.append("# containerd 1.x replaces a whole plugin section per imported file, so this file repeats")
        comments.append("# the CRI section of %s (and the files it imports before this one)." % main_path)
    new_dropin = dumps_toml(dropin_data, comments)
    plan.add(dropin_path, dropin_text, new_dropin,
             same=lambda old, new: _toml.loads(old) == _toml.loads(new))

    if main_text is None or empty_main:
        new_main = _created_main_text(dropin_path, with_import=True)
        if empty_main:
            new_main = new_main + main_text if main_text.strip() else new_main
        plan.add(main_path, main_text, new_main)
        summary["import_added"] = True
    else:
        new_main = _edit_main_imports(main_path, main_text, main_data, dropin_path, present=True)
        plan.add(main_path, main_text, new_main)
        summary["import_added"] = new_main != main_text
    summary.update(set_as_default=options.set_as_default, cdi=options.cdi)
    if options.cdi and version == 2:
        summary["note"] = "enable_cdi needs containerd >= 1.7"
    return plan


def cdi_spec_dirs(current):
    """``current`` (a list from the config, or None) with containerd's default CDI spec directories added."""
    dirs = [str(item) for item in current] if isinstance(current, list) else []
    return dirs + [item for item in CDI_SPEC_DIRS if item not in dirs]


def _created_main_text(dropin_path, with_import):
    lines = [CREATED_HEADER, "version = 2"]
    if with_import:
        lines.append("imports = %s  %s" % (toml_value([dropin_path]), ADDED_COMMENT))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# k3s
# --------------------------------------------------------------------------

def k3s_paths(config_path):
    """Every file :func:`plan_k3s` may read or write, for a generated ``config_path``."""
    base = posixpath.dirname(config_path)
    paths = [config_path]
    for version in (2, 3):
        paths.append(posixpath.join(base, K3S_TEMPLATE[version]))
        paths.append(posixpath.join(base, K3S_DROPIN_DIR[version], DROPIN_NAME))
    return paths


def _owned(text):
    return text is not None and MARK in text


def _k3s_extra(version, needs, runtime_name, runtime=None):
    plugin = CRI_PLUGIN[version]
    cri = {}
    if "cdi" in needs:
        cri["enable_cdi"] = True
    if "set_as_default" in needs:
        cri["containerd"] = {"default_runtime_name": runtime_name}
    if runtime is not None:
        cri.setdefault("containerd", {})["runtimes"] = {runtime_name: runtime}
    return {"plugins": {plugin: cri}}


def _k3s_needs(data, version, options):
    """The requested settings that ``data`` (a config k3s rendered, or None) does not give already."""
    needs = []
    cri = _get(data, ("plugins", CRI_PLUGIN[version]), {}) if data is not None else {}
    if options.set_as_default and (data is None or _get(cri, ("containerd", "default_runtime_name"))
                                   != options.runtime_name):
        needs.append("set_as_default")
    if options.cdi:
        value = cri.get("enable_cdi") if isinstance(cri, dict) else None
        # containerd 2.x (config version 3) enables CDI unless told otherwise; 1.7 does not
        if data is None or not (value if value is not None else version == 3):
            needs.append("cdi")
    return needs


def _k3s_advice(needs, runtime_name, dropin_dir):
    advice = []
    if "set_as_default" in needs:
        advice.append("for the default runtime use k3s's own option default-runtime: %s "
                      "(/etc/rancher/k3s/config.yaml)" % runtime_name)
    if "cdi" in needs:
        advice.append("for CDI use a k3s release with containerd 2.x (CDI on by default)")
    advice.append("k3s releases whose generated config imports %s/*.toml need no template" % dropin_dir)
    return "; ".join(advice)


def plan_k3s(config_path, texts, options):
    """k3s regenerates ``config_path`` at every start: never edit it, only read it.

    * Nothing to write unless ``set_as_default`` or ``cdi`` asks for something the config k3s
      rendered does not give already: k3s finds nvidia-container-runtime on its PATH (and in
      /usr/local/nvidia/toolkit) and registers runtime ``nvidia`` by itself, ``default-runtime``
      in k3s's config.yaml sets the default, and containerd 2.x has CDI on by default.
    * When the generated config imports ``config(-v3).toml.d/*.toml`` (k3s releases with
      k3s-io/k3s#13680, containerd 2.x, which merges imported tables key by key), write
      ``99-nvidia.toml`` there.
    * Else write ``config(-v3).toml.tmpl`` = ``{{ template "base" . }}`` + our tables. This works
      only while the base does not declare those tables itself (a table declared twice stops
      containerd: k3s-io/docs#566), so the result is checked against the config k3s rendered from
      its base; without a rendered config the module refuses.

    ``texts`` maps each path of :func:`k3s_paths` to its text (``None`` when missing).
    """
    plan = Plan("k3s")
    summary = plan.summary
    base_dir = posixpath.dirname(config_path)
    generated = texts.get(config_path)
    gen_data = parse_toml(generated, config_path) if generated is not None else None
    gen_version = config_version(gen_data, config_path) if gen_data is not None else None
    version = options.k3s_template_version or gen_version
    summary.update(config_path=config_path, generated_config_version=gen_version, config_version=version,
                   runtime_name=options.runtime_name, state=options.state)

    detected = None
    if gen_data is not None:
        detected = isinstance(_get(gen_data, ("plugins", CRI_PLUGIN[gen_version], "containerd", "runtimes",
                                              options.runtime_name)), dict)
    summary["runtime_detected"] = detected
    if options.present and detected is False:
        plan.warnings.append(
            "k3s has not registered runtime %r in %s: make sure nvidia-container-runtime is on k3s's PATH "
            "(or in /usr/local/nvidia/toolkit) and restart k3s" % (options.runtime_name, config_path))

    tmpl_paths = dict((v, posixpath.join(base_dir, K3S_TEMPLATE[v])) for v in (2, 3))
    dropin_paths = dict((v, posixpath.join(base_dir, K3S_DROPIN_DIR[v], DROPIN_NAME)) for v in (2, 3))
    for path in dropin_paths.values():
        if texts.get(path) is not None:
            parse_toml(texts[path], path)

    keep = None
    summary["mode"] = "none"
    summary["needs"] = []
    if options.present and (options.set_as_default or options.cdi):
        if version is None:
            raise RuntimeConfigError(
                "k3s has not written %s yet, so its containerd config version is unknown: set "
                "k3s_template_version (3 for k3s >= v1.31.6 / v1.32.2, which ship containerd 2.0; else 2)"
                % config_path)
        plugin = CRI_PLUGIN[version]
        dropin_path = dropin_paths[version]
        tmpl_path = tmpl_paths[version]
        same_version = gen_version == version
        imports = _imports_of(gen_data, config_path) if gen_data is not None else []
        if same_version and any(import_covers(config_path, entry, dropin_path) for entry in imports):
            needs = _k3s_needs(gen_data, version, options)
            summary["needs"] = needs
            if needs:
                summary["mode"] = "dropin"
                keep = dropin_path
                gen_cri = _get(gen_data, ("plugins", plugin), {}) or {}
                _source, runtime = nvidia_runtime_table(gen_cri, options.runtime_name, options.runtime_path)
                data = {"version": version}
                data.update(_k3s_extra(version, needs, options.runtime_name, runtime))
                text = dumps_toml(data, [OWNED_HEADER, "# Imported by the containerd config k3s generates (%s)."
                                         % config_path])
                plan.add(dropin_path, texts.get(dropin_path), text,
                         same=lambda old, new: _toml.loads(old) == _toml.loads(new))
        else:
            rendered_base = None
            if generated is not None and same_version:
                rendered_base = generated
                if BLOCK_BEGIN in generated:  # rendered from our template: cut our part off
                    rendered_base = generated[:generated.index(BLOCK_BEGIN)]
            base_data = parse_toml(rendered_base, config_path) if rendered_base is not None else None
            needs = _k3s_needs(base_data, version, options)
            summary["needs"] = needs
            if needs:
                summary["mode"] = "template"
                keep = tmpl_path
                extra = _k3s_extra(version, needs, options.runtime_name)
                current = texts.get(tmpl_path)
                if current is not None and not _owned(current):
                    raise RuntimeConfigError("%s exists and was not written by this module; add to it by "
                                             "hand:\n%s" % (tmpl_path, dumps_toml(extra)))
                other = tmpl_paths[3]
                if version == 2 and texts.get(other) is not None and not _owned(texts[other]):
                    raise RuntimeConfigError("%s exists: k3s prefers it over %s, so ours would be ignored"
                                             % (other, tmpl_path))
                if rendered_base is None:
                    raise RuntimeConfigError(
                        "cannot check that %s would be valid: k3s has not rendered a version %d config at %s "
                        "yet (start k3s once and run again); %s"
                        % (tmpl_path, version, config_path,
                           _k3s_advice(needs, options.runtime_name, posixpath.dirname(dropin_path))))
                tail = "\n%s\n%s%s\n" % (BLOCK_BEGIN, dumps_toml(extra), BLOCK_END)
                combined = rendered_base.rstrip("\n") + "\n" + tail
                try:
                    combined_data = _toml.loads(combined)
                except _toml.TOMLDecodeError as exc:
                    raise RuntimeConfigError(
                        "cannot add %s to %s: k3s's base template already declares the table, and a TOML "
                        "table declared twice stops containerd (%s); %s" % (
                            " and ".join(needs), tmpl_path, exc,
                            _k3s_advice(needs, options.runtime_name, posixpath.dirname(dropin_path))))
                if combined_data != _deep_merge(base_data, extra):
                    raise RuntimeConfigError("%s: appending to the base template would not give the intended "
                                             "config; nothing was changed" % tmpl_path)
                plan.add(tmpl_path, current, K3S_BASE_CALL + "\n" + tail)

    # remove what we wrote before and no longer need
    for path in list(tmpl_paths.values()) + list(dropin_paths.values()):
        if path != keep and _owned(texts.get(path)):
            plan.add(path, texts[path], None)
    summary.update(set_as_default=options.set_as_default, cdi=options.cdi)
    return plan


# --------------------------------------------------------------------------
# MicroK8s
# --------------------------------------------------------------------------

def _strip_block(text):
    """Remove our BEGIN/END block (and the blank line we put before it)."""
    if BLOCK_BEGIN not in text:
        return text
    start = text.index(BLOCK_BEGIN)
    end_mark = text.find(BLOCK_END, start)
    if end_mark == -1:
        raise RuntimeConfigError("found %r without %r" % (BLOCK_BEGIN, BLOCK_END))
    end = end_mark + len(BLOCK_END)
    if text[end:end + 1] == "\n":
        end += 1
    if text[:start].endswith("\n\n"):
        start -= 1
    return text[:start] + text[end:]


def plan_microk8s(template_path, template_text, options):
    """Edit MicroK8s's ``containerd-template.toml`` in place, keeping every other line.

    The file holds ``${SNAPSHOTTER}``-style placeholders that MicroK8s substitutes; they sit inside
    TOML strings, so the file parses as TOML and they are never touched. A file with Go template
    actions (``{{``) is refused. The runtime tables go in a BEGIN/END block at the end;
    ``default_runtime_name`` and ``enable_cdi`` are changed on their own lines with the old value
    kept in a trailing comment, so that state=absent restores the file.
    """
    plan = Plan("microk8s")
    summary = plan.summary
    summary.update(config_path=template_path, runtime_name=options.runtime_name, state=options.state)
    if template_text is None:
        raise RuntimeConfigError("%s does not exist: is MicroK8s installed?" % template_path)
    if "{{" in template_text:
        raise RuntimeConfigError("%s contains Go template actions ({{ ... }}); this module edits only the "
                                 "plain TOML template MicroK8s ships" % template_path)
    data = parse_toml(template_text, template_path)
    version = config_version(data, template_path)
    plugin = CRI_PLUGIN[version]
    summary.update(config_version=version, cri_plugin=plugin)
    cri_path = ("plugins", plugin)
    ctd_path = cri_path + ("containerd",)

    # undo our earlier edits, then apply the wanted ones: the result depends only on the options
    text = _strip_block(template_text)
    doc = _Doc(text, template_path)
    _restore_marked(doc)
    text = doc.text()
    base_data = parse_toml(text, template_path)
    if not options.present:
        plan.add(template_path, template_text, text)
        return plan

    expected = copy.deepcopy(base_data)
    base_cri = _get(base_data, cri_path, {}) or {}
    existing = _get(base_cri, ("containerd", "runtimes", options.runtime_name))
    source, runtime = nvidia_runtime_table(base_cri, options.runtime_name, options.runtime_path)
    summary["runtime_options_from"] = source
    if existing is None:
        block = dumps_toml({"plugins": {plugin: {"containerd": {"runtimes": {options.runtime_name: runtime}}}}})
        doc.append_text("\n%s\n%s%s\n" % (BLOCK_BEGIN, block, BLOCK_END))
        _set(expected, ctd_path + ("runtimes", options.runtime_name), runtime)
    else:
        # a runtime table of that name exists already (not ours): set our two keys in it
        rt_path = ctd_path + ("runtimes", options.runtime_name)
        _set_key_marked(doc, rt_path, "runtime_type", RUNTIME_TYPE)
        _set_key_marked(doc, rt_path + ("options",), "BinaryName", options.runtime_path)
        _set(expected, rt_path + ("runtime_type",), RUNTIME_TYPE)
        _set(expected, rt_path + ("options", "BinaryName"), options.runtime_path)
    if options.set_as_default:
        _set_key_marked(doc, ctd_path, "default_runtime_name", options.runtime_name)
        _set(expected, ctd_path + ("default_runtime_name",), options.runtime_name)
    if options.cdi:
        _set_key_marked(doc, cri_path, "enable_cdi", True)
        _set(expected, cri_path + ("enable_cdi",), True)
    new_text = doc.text()
    _check_edit(template_path, new_text, expected)
    plan.add(template_path, template_text, new_text,
             same=lambda old, new: _toml.loads(old) == _toml.loads(new) and _marks(old) == _marks(new))
    summary.update(set_as_default=options.set_as_default, cdi=options.cdi)
    return plan


def _marks(text):
    return [line.split(MARK, 1)[1] for line in text.splitlines() if MARK in line]


# --------------------------------------------------------------------------
# Docker
# --------------------------------------------------------------------------

def _json_indent(text):
    match = re.search(r"\n([ \t]+)\S", text or "")
    if not match:
        return 4
    indent = match.group(1)
    return "\t" if "\t" in indent else len(indent)


def parse_json(text, path):
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RuntimeConfigError("%s is not valid JSON: %s" % (path, exc))
    if not isinstance(data, dict):
        raise RuntimeConfigError("%s: the top level must be a JSON object" % path)
    return data


def _json_object(data, key, path):
    """``data[key]``, created empty when absent; a value that is not an object is an error."""
    value = data.get(key)
    if value is None:
        value = data[key] = {}
    if not isinstance(value, dict):
        raise RuntimeConfigError("%s: %s must be an object" % (path, key))
    return value


def plan_docker(path, text, options):
    """Merge ``runtimes.<name> = {path, args: []}`` into daemon.json, keeping the other keys and their order."""
    plan = Plan("docker")
    plan.summary.update(config_path=path, runtime_name=options.runtime_name, state=options.state)
    data = parse_json(text, path) if text is not None and text.strip() else {}
    new = copy.deepcopy(data)
    name = options.runtime_name
    if options.present:
        runtimes = _json_object(new, "runtimes", path)
        entry = runtimes.get(name) if isinstance(runtimes.get(name), dict) else {}
        entry = dict(entry)
        entry["path"] = options.runtime_path
        entry.setdefault("args", [])
        runtimes[name] = entry
        if options.set_as_default:
            new["default-runtime"] = name
        if options.cdi:
            _json_object(new, "features", path)["cdi"] = True
    else:
        runtimes = new.get("runtimes")
        if isinstance(runtimes, dict) and name in runtimes:
            del runtimes[name]
            if not runtimes:
                del new["runtimes"]
        if new.get("default-runtime") == name:
            del new["default-runtime"]
    if new == data:
        return plan
    if not new and text is not None and not options.present:
        plan.add(path, text, None)
        return plan
    new_text = json.dumps(new, indent=_json_indent(text), ensure_ascii=False) + "\n"
    if json.loads(new_text) != new:  # pragma: no cover - json round-trips by construction
        raise RuntimeConfigError("internal error: %s would not read back as intended" % path)
    plan.add(path, text, new_text)
    plan.summary.update(set_as_default=options.set_as_default, cdi=options.cdi)
    return plan
