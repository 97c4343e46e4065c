# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_wsl_list.py (byte sequences in wsl_output_cases.py)."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wsl_list import (
    WslOutputError,
    decode_wsl_output,
    parse_wsl_list_verbose,
    parse_wsl_version,
)
from ansible_collections.homelab.gpu_node.tests.unit.plugins.plugin_utils.wsl_output_cases import (
    LIST_TWO_DISTROS_EXPECTED,
    LIST_TWO_DISTROS_ROWS,
    LIST_TWO_DISTROS_UTF16LE,
    TAILSCALE_3170_FR_TEXT,
    TAILSCALE_3170_FR_USAGE,
    VERSION_EXPECTED,
    VERSION_LABELS,
    wsl_list_bytes,
    wsl_version_bytes,
)


def test_builder_reproduces_the_literal_bytes():
    # The literal is spelled out by hand from WslClient.cpp's format; the builder must agree with it.
    assert wsl_list_bytes(LIST_TWO_DISTROS_ROWS) == LIST_TWO_DISTROS_UTF16LE
    assert LIST_TWO_DISTROS_UTF16LE[1::2].count(0) == len(LIST_TWO_DISTROS_UTF16LE) // 2  # all ASCII


# --- decoding -----------------------------------------------------------------

# How the same output can reach the filter.
_RAW = LIST_TWO_DISTROS_UTF16LE
DECODINGS = [
    ("utf16le-bytes-no-bom", _RAW),
    ("utf16le-bytes-with-bom", b"\xff\xfe" + _RAW),
    ("utf8-bytes-WSL_UTF8", _RAW.decode("utf-16-le").encode("utf-8")),
    ("utf8-bytes-with-bom", b"\xef\xbb\xbf" + _RAW.decode("utf-16-le").encode("utf-8")),
    ("clean-text", _RAW.decode("utf-16-le")),
    ("text-with-bom-char", "\ufeff" + _RAW.decode("utf-16-le")),
    # win_command without WSL_UTF8=1: the UTF-16 bytes decoded as UTF-8 -> NUL after every character
    ("nul-text-from-utf8-decode", _RAW.decode("utf-8")),
    ("nul-text-bom-from-utf8-decode", (b"\xff\xfe" + _RAW).decode("utf-8", errors="replace")),
    # ... or decoded with an ANSI/OEM code page
    ("nul-text-bom-from-cp1252", (b"\xff\xfe" + _RAW).decode("cp1252")),
    ("nul-text-bom-from-cp437", (b"\xff\xfe" + _RAW).decode("cp437")),
    ("nul-text-bom-from-latin1", (b"\xff\xfe" + _RAW).decode("latin-1")),
]


@pytest.mark.parametrize("data", [d for _i, d in DECODINGS], ids=[i for i, _d in DECODINGS])
def test_every_way_the_output_arrives_parses_the_same(data):
    assert parse_wsl_list_verbose(data) == LIST_TWO_DISTROS_EXPECTED


def test_decode_real_capture_with_double_cr():
    # tailscale#3170: resource messages end in \r\r\n; é and a no-break space are real UTF-16 code units.
    assert decode_wsl_output(TAILSCALE_3170_FR_USAGE) == TAILSCALE_3170_FR_TEXT
    assert decode_wsl_output(TAILSCALE_3170_FR_USAGE.decode("latin-1")) == TAILSCALE_3170_FR_TEXT


def test_decode_rejects_other_types():
    with pytest.raises(WslOutputError, match="expected the text or bytes"):
        decode_wsl_output(42)


def test_decode_none_and_empty():
    assert decode_wsl_output(None) == ""
    assert decode_wsl_output(b"") == ""


# --- wsl --list --verbose -------------------------------------------------------


def test_states_versions_default_marker_and_long_names():
    rows = [
        ("*", "Ubuntu", "Running", "2"),
        (" ", "k3s-gpu-node", "Installing", "2"),
        (" ", "Legacy.Debian_9", "Stopped", "1"),
        (" ", "a" * 40, "Converting", "2"),
        (" ", "docker-desktop-data", "Exporting", "2"),
        (" ", "old", "Uninstalling", "2"),
    ]
    parsed = parse_wsl_list_verbose(wsl_list_bytes(rows, bom=True))
    assert [d["name"] for d in parsed] == [r[1] for r in rows]
    assert [d["state"] for d in parsed] == [r[2] for r in rows]
    assert [d["version"] for d in parsed] == [2, 2, 1, 2, 2, 2]
    assert [d["default"] for d in parsed] == [True, False, False, False, False, False]


def test_no_default_distribution():
    parsed = parse_wsl_list_verbose(wsl_list_bytes([(" ", "k3s-gpu-node", "Stopped", "2")]))
    assert parsed == [{"name": "k3s-gpu-node", "state": "Stopped", "version": 2, "default": False}]


@pytest.mark.parametrize(
    "header",
    [
        ("NOM", "\u00c9TAT", "VERSION"),  # a translated header with a non-ASCII letter
        ("\u540d\u524d", "\u72b6\u614b", "\u30d0\u30fc\u30b8\u30e7\u30f3"),
    ],
    ids=["french-header", "japanese-header"],
)
@pytest.mark.parametrize("utf8", [False, True], ids=["utf16le", "utf8"])
def test_translated_header_is_recognised_by_shape(header, utf8):
    data = wsl_list_bytes(LIST_TWO_DISTROS_ROWS, header=header, utf8=utf8, bom=not utf8)
    assert parse_wsl_list_verbose(data) == LIST_TWO_DISTROS_EXPECTED


def test_translated_header_survives_a_cp437_misdecode():
    # É (U+00C9) -> bytes C9 00 -> cp437 '╔' + NUL: the header is damaged but still header-shaped.
    data = wsl_list_bytes(LIST_TWO_DISTROS_ROWS, header=("NOM", "\u00c9TAT", "VERSION"), bom=True).decode("cp437")
    assert parse_wsl_list_verbose(data) == LIST_TWO_DISTROS_EXPECTED


@pytest.mark.parametrize("data", ["", "\r\n", b"", b"\xff\xfe", b"\r\x00\n\x00"], ids=["empty", "crlf", "no-bytes", "bom-only", "utf16-crlf"])
def test_empty_output_is_an_empty_list(data):
    assert parse_wsl_list_verbose(data) == []


def test_real_french_usage_text_is_rejected_not_parsed_as_empty():
    with pytest.raises(WslOutputError, match="does not look like"):
        parse_wsl_list_verbose(TAILSCALE_3170_FR_USAGE)


def test_table_without_header_is_rejected():
    text = "* Ubuntu    Running         2\r\n"
    with pytest.raises(WslOutputError, match="no NAME/STATE/VERSION header"):
        parse_wsl_list_verbose(text)


def test_message_after_the_table_is_rejected_with_the_line():
    text = wsl_list_bytes(LIST_TWO_DISTROS_ROWS).decode("utf-16-le") + "Error code: Wsl/Service/E_UNEXPECTED\r\n"
    with pytest.raises(WslOutputError, match="Error code: Wsl/Service/E_UNEXPECTED"):
        parse_wsl_list_verbose(text)


# --- wsl --version ----------------------------------------------------------------


@pytest.mark.parametrize("locale", sorted(VERSION_LABELS))
@pytest.mark.parametrize(
    "encoding",
    ["utf16le", "utf16le-bom", "utf8", "nul-text", "crlf-only"],
)
def test_wsl_version_in_every_language_and_encoding(locale, encoding):
    if encoding == "utf8":
        data = wsl_version_bytes(locale, utf8=True)
    elif encoding == "utf16le-bom":
        data = b"\xff\xfe" + wsl_version_bytes(locale)
    elif encoding == "nul-text":
        data = wsl_version_bytes(locale).decode("utf-8", errors="replace")
    elif encoding == "crlf-only":
        data = wsl_version_bytes(locale, line_end="\r\n")
    else:
        data = wsl_version_bytes(locale)
    assert parse_wsl_version(data) == VERSION_EXPECTED


def test_wsl_version_of_inbox_wsl_without_version_option_is_all_none():
    # The inbox wsl.exe answers --version with its usage text; no line carries "label: number".
    parsed = parse_wsl_version(TAILSCALE_3170_FR_USAGE)
    assert parsed["wsl"] is None
    assert set(parsed.values()) == {None}


def test_wsl_version_first_value_is_the_wsl_package():
    assert parse_wsl_version("WSL version: 2.4.13.0\nKernel version: 5.15.167.4-1\n")["wsl"] == "2.4.13.0"
    assert parse_wsl_version("WSL version: 2.4.13.0\n")["kernel"] is None
