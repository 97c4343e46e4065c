# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""Parsers for what ``wsl.exe`` prints (controller side, stdlib only).

``wsl.exe`` writes UTF-16LE to a pipe unless ``WSL_UTF8=1`` is set (WSL 0.64+;
microsoft/WSL src/windows/common/WslClient.cpp sets ``_O_U16TEXT`` or
``_O_U8TEXT`` from that variable). What reaches the controller is therefore one of:

* the raw bytes (UTF-16LE, with or without a BOM, or UTF-8);
* text decoded by someone who assumed UTF-8 or an ANSI/OEM code page: every
  character followed by ``\\x00``, a BOM shown as ``\\ufeff``, ``\\ufffd\\ufffd``
  or ``\\xff\\xfe``;
* clean text (``WSL_UTF8=1`` honoured, or decoded properly).

Line ends are ``\\r\\n``; messages taken from resource strings show
``\\r\\r\\n`` because the CRT text mode expands an embedded ``\\r\\n`` again.

``wsl --list --verbose`` rows are printed with ``"%s %-<n>s%-16s%s\\n"``: the
default marker (``*`` or a space), the name, the state, the version. Current
WSL prints the header words from constants (``NAME STATE VERSION``, wsl.h) while
most of its other messages are localised; the header is recognised by its
shape, never by its words, so a translated header parses too. Distribution names match ``^[a-zA-Z0-9._-]{1,256}$``
(LxssUserSession.cpp ``s_ValidateDistroName``): no spaces, ASCII only.
"""

from __future__ import annotations

import re

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import GpuNodeError

# States as printed by WslClient.cpp ListDistributionsHelper.
KNOWN_STATES = ("Running", "Stopped", "Installing", "Uninstalling", "Converting", "Exporting")

_VERSION_RE = re.compile(r"\d+(?:\.\d+){1,3}")
# Fields of `wsl --version` in the order of the MessagePackageVersions resource.
VERSION_FIELDS = ("wsl", "kernel", "wslg", "msrdc", "direct3d", "dxcore", "windows")

# What a UTF-16LE BOM (FF FE) becomes when the bytes were decoded with the wrong codec.
_BOM_LOOKALIKES = ("\ufeff", "\ufffd\ufffd", "\ufffd", "\xff\xfe", "\u02d9\u0163", "\xa0\u25a0")


class WslOutputError(GpuNodeError):
    """wsl.exe printed something that is not what we asked it for."""


def _looks_utf16le(data):
    """True when bytes look like UTF-16LE text without a BOM (NULs in odd positions)."""
    if len(data) < 2:
        return False
    odd = data[1::2]
    nul_odd = odd.count(0)
    return nul_odd >= max(1, len(odd) // 2) and data[0::2].count(0) < nul_odd


def decode_wsl_output(data):
    """Return clean text from wsl.exe output given as bytes or as (mis)decoded text."""
    if data is None:
        return ""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data)
        if data.startswith(b"\xff\xfe"):
            text = data[2:].decode("utf-16-le", errors="replace")
        elif data.startswith(b"\xef\xbb\xbf"):
            text = data[3:].decode("utf-8", errors="replace")
        elif _looks_utf16le(data):
            text = data.decode("utf-16-le", errors="replace")
        else:
            text = data.decode("utf-8", errors="replace")
    elif isinstance(data, str):
        text = data
        if "\x00" in text:
            # UTF-16LE bytes decoded one byte per character: try to get the real text back.
            try:
                raw = text.encode("latin-1")
            except UnicodeEncodeError:
                raw = None
            if raw is not None:
                return decode_wsl_output(raw)
            text = text.replace("\x00", "")
    else:
        raise WslOutputError("expected the text or bytes that wsl.exe printed, got %s" % type(data).__name__)
    for lookalike in _BOM_LOOKALIKES:
        if text.startswith(lookalike):
            text = text[len(lookalike):]
            break
    # \r\r\n (resource strings through CRT text mode) and \r\n both end a line.
    return re.sub(r"\r+\n", "\n", text).replace("\r", "\n")


def _lines(text):
    return [line.rstrip() for line in decode_wsl_output(text).split("\n")]


def parse_wsl_list_verbose(data):
    """Parse ``wsl --list --verbose`` output.

    Returns a list of ``{"name", "state", "version", "default"}`` dicts in the
    printed order (default distribution first). Empty output gives ``[]``.
    Raises WslOutputError for output that has no header or a line that is not
    a distribution row, such as an error message or the usage text.
    """
    lines = [line for line in _lines(data) if line.strip()]
    if not lines:
        return []
    header = lines[0].split()
    if len(header) != 3 or header[-1].isdigit():
        raise WslOutputError(
            "this does not look like `wsl --list --verbose` output (no NAME/STATE/VERSION header): %r" % lines[0][:200]
        )
    distros = []
    for line in lines[1:]:
        marker = line[:1]
        tokens = line[1:].split() if marker in ("*", " ") else line.split()
        if len(tokens) < 3 or not tokens[-1].isdigit():
            raise WslOutputError("unexpected line in `wsl --list --verbose` output: %r" % line[:200])
        distros.append(
            {
                "name": tokens[0],
                "state": " ".join(tokens[1:-1]),
                "version": int(tokens[-1]),
                "default": marker == "*",
            }
        )
    return distros


def parse_wsl_version(data):
    """Parse ``wsl --version`` output (labels are localised; the order is not).

    Returns ``{"wsl": "2.5.9.0", "kernel": ..., "wslg": ..., "msrdc": ...,
    "direct3d": ..., "dxcore": ..., "windows": ...}``; fields that are missing
    are ``None``. Returns all ``None`` when the output carries no version at all
    (the inbox ``wsl.exe`` of older Windows prints its usage text for
    ``--version``).
    """
    result = dict.fromkeys(VERSION_FIELDS)
    values = []
    for line in _lines(data):
        if not line.strip():
            continue
        # "WSL version: 2.5.9.0", "Version WSL : 2.5.9.0", "WSL バージョン: 2.5.9.0",
        # "Kernel version: 6.6.87.2-1" -> value after the last colon-like separator.
        parts = re.split(r"[:\uff1a]", line, maxsplit=1)
        if len(parts) != 2:
            continue
        match = _VERSION_RE.search(parts[1])
        if match is None:
            continue
        values.append(match.group(0))
    if not values:
        return result
    for key, value in zip(VERSION_FIELDS, values):
        result[key] = value
    return result
