# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Byte sequences of wsl.exe output for the parser tests.

Provenance, honestly stated:

* No Windows host was available, so the ``--list --verbose`` tables are NOT
  captures. They are produced exactly the way wsl.exe produces them, from
  microsoft/WSL src/windows/common/WslClient.cpp (ListDistributionsHelper, read at
  3e27a6a5): format ``L"%s %-<maxLength+4>s%-16s%s\\n"``, header words from
  src/windows/inc/wsl.h, the default distribution sorted first, written through
  the CRT in ``_O_U16TEXT`` mode (UTF-16LE, ``\\n`` -> ``\\r\\n``) unless
  ``WSL_UTF8=1`` selects ``_O_U8TEXT``. ``LIST_TWO_DISTROS_UTF16LE`` spells those
  bytes out literally; a test checks that the builder reproduces them.
* ``TAILSCALE_3170_FR_USAGE`` IS a capture: the first bytes of what ``wsl.exe -l``
  printed on a French Windows, quoted in tailscale/tailscale issue #3170 (Go
  ``%q`` of the raw bytes). It shows the ``\\r\\r\\n`` line ends of resource
  messages and a no-break space before the colon.
* The ``--version`` label lines are the MessagePackageVersions resource strings
  of localization/strings/{en-US,de-DE,fr-FR,ja-JP}/Resources.resw (microsoft/WSL
  @3e27a6a5); the version numbers are typical WSL 2.5.9 values, not a capture.
"""

from __future__ import annotations

# What wsl.exe --list --verbose writes to a pipe: UTF-16LE, no BOM, CRLF.
LIST_TWO_DISTROS_UTF16LE = (
    b" \x00 \x00N\x00A\x00M\x00E\x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00"
    b"S\x00T\x00A\x00T\x00E\x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00"
    b"V\x00E\x00R\x00S\x00I\x00O\x00N\x00\r\x00\n\x00"
    b"*\x00 \x00U\x00b\x00u\x00n\x00t\x00u\x00-\x002\x002\x00.\x000\x004\x00 \x00 \x00 \x00 \x00"
    b"R\x00u\x00n\x00n\x00i\x00n\x00g\x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x002\x00\r\x00\n\x00"
    b" \x00 \x00k\x003\x00s\x00-\x00g\x00p\x00u\x00-\x00n\x00o\x00d\x00e\x00 \x00 \x00 \x00 \x00"
    b"S\x00t\x00o\x00p\x00p\x00e\x00d\x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x00 \x002\x00\r\x00\n\x00"
)
LIST_TWO_DISTROS_ROWS = [
    ("*", "Ubuntu-22.04", "Running", "2"),
    (" ", "k3s-gpu-node", "Stopped", "2"),
]
LIST_TWO_DISTROS_EXPECTED = [
    {"name": "Ubuntu-22.04", "state": "Running", "version": 2, "default": True},
    {"name": "k3s-gpu-node", "state": "Stopped", "version": 2, "default": False},
]

# tailscale/tailscale#3170: `wsl.exe -l` on a French Windows (exit status 1), first bytes.
TAILSCALE_3170_FR_USAGE = (
    b"\r\x00\r\x00\n\x00C\x00o\x00p\x00y\x00r\x00i\x00g\x00h\x00t\x00 \x00(\x00c\x00)\x00 \x00"
    b"M\x00i\x00c\x00r\x00o\x00s\x00o\x00f\x00t\x00 \x00C\x00o\x00r\x00p\x00o\x00r\x00a\x00t\x00i\x00o\x00n\x00.\x00"
    b" \x00T\x00o\x00u\x00s\x00 \x00d\x00r\x00o\x00i\x00t\x00s\x00 \x00r\x00\xe9\x00s\x00e\x00r\x00v\x00\xe9\x00s\x00"
    b".\x00\r\x00\r\x00\n\x00\r\x00\r\x00\n\x00U\x00t\x00i\x00l\x00i\x00s\x00a\x00t\x00i\x00o\x00n\x00\xa0\x00:\x00"
    b" \x00w\x00s\x00l\x00.\x00e\x00x\x00e\x00 \x00[\x00A\x00r\x00g\x00u\x00m\x00e\x00n\x00t\x00]\x00\r\x00\r\x00\n\x00"
)
TAILSCALE_3170_FR_TEXT = (
    "\nCopyright (c) Microsoft Corporation. Tous droits r\u00e9serv\u00e9s.\n\n"
    "Utilisation\u00a0: wsl.exe [Argument]\n"
)


def wsl_list_text(rows, header=("NAME", "STATE", "VERSION")):
    """The text wsl.exe --list --verbose prints for ``rows`` of (marker, name, state, version)."""
    width = max([len(header[0])] + [len(row[1]) for row in rows]) + 4
    lines = ["%s %-*s%-16s%s\n" % (" ", width, header[0], header[1], header[2])]
    lines += ["%s %-*s%-16s%s\n" % (marker, width, name, state, version) for marker, name, state, version in rows]
    return "".join(lines)


def wsl_list_bytes(rows, header=("NAME", "STATE", "VERSION"), utf8=False, bom=False):
    """Bytes on the pipe: CRT text mode turns \\n into \\r\\n, then UTF-16LE (or UTF-8 with WSL_UTF8=1)."""
    text = wsl_list_text(rows, header).replace("\n", "\r\n")
    if utf8:
        return text.encode("utf-8")
    data = text.encode("utf-16-le")
    return b"\xff\xfe" + data if bom else data


VERSION_VALUES = [
    "2.5.9.0",
    "6.6.87.2-1",
    "1.0.66",
    "1.2.6074",
    "1.611.1-81528511",
    "10.0.26100.1-240331-1435.ge-release",
    "10.0.26100.4061",
]
VERSION_EXPECTED = {
    "wsl": "2.5.9.0",
    "kernel": "6.6.87.2",
    "wslg": "1.0.66",
    "msrdc": "1.2.6074",
    "direct3d": "1.611.1",
    "dxcore": "10.0.26100.1",
    "windows": "10.0.26100.4061",
}
# MessagePackageVersions, one label per line, in resource order.
VERSION_LABELS = {
    "en-US": ["WSL version: ", "Kernel version: ", "WSLg version: ", "MSRDC version: ", "Direct3D version: ",
              "DXCore version: ", "Windows version: "],
    "de-DE": ["WSL-Version: ", "Kernelversion: ", "WSLg-Version: ", "MSRDC-Version: ", "Direct3D-Version: ",
              "DXCore-Version: ", "Windows-Version: "],
    "fr-FR": ["Version WSL : ", "Version du noyau : ", "Version WSLg : ", "Version MSRDC : ", "Version direct3D : ",
              "Version de DXCore : ", "Version de Windows : "],
    "ja-JP": ["WSL \u30d0\u30fc\u30b8\u30e7\u30f3: ", "\u30ab\u30fc\u30cd\u30eb \u30d0\u30fc\u30b8\u30e7\u30f3: ",
              "WSLg \u30d0\u30fc\u30b8\u30e7\u30f3: ", "MSRDC \u30d0\u30fc\u30b8\u30e7\u30f3: ",
              "Direct3D \u30d0\u30fc\u30b8\u30e7\u30f3: ", "DXCore \u30d0\u30fc\u30b8\u30e7\u30f3: ",
              "Windows \u30d0\u30fc\u30b8\u30e7\u30f3: "],
}


def wsl_version_bytes(locale, utf8=False, line_end="\r\r\n"):
    """``wsl --version`` output: a multi-line resource string; its embedded CRLF becomes \\r\\r\\n in text mode."""
    text = line_end.join(label + value for label, value in zip(VERSION_LABELS[locale], VERSION_VALUES)) + "\r\n"
    return text.encode("utf-8") if utf8 else text.encode("utf-16-le")
