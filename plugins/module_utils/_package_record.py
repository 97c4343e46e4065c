# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""The record of the packages a role installed, so that an uninstall removes exactly those.

Plain Python (3.8+), no Ansible imports: the module package_record runs the package manager's
query and writes the file; these functions parse and decide.

A wanted package that was not installed before the role's install and is after it was installed by
the role. The packages of the earlier record stay recorded. A package the user had before the
role's first run is never recorded, so an uninstall never removes it.
"""

from __future__ import annotations

import json

#: Query commands, in the order tried: dpkg (Debian, Ubuntu), then rpm (RHEL and its rebuilds).
#: dpkg-query prints one line per known package (``install ok installed NAME``) and an error for an
#: unknown one; rpm prints ``NAME`` for an installed one and "package NAME is not installed" else.
DPKG_QUERY = ["dpkg-query", "--show", "--showformat=${Status} ${Package}\\n"]
RPM_QUERY = ["rpm", "--query", "--queryformat=%{NAME}\\n"]


class PackageRecordError(Exception):
    """A record that is not ``{"packages": [...]}``."""


def installed_from_dpkg(stdout, wanted):
    """The names of ``wanted`` that dpkg-query's output shows installed (status ``install ok installed``)."""
    found = set()
    for line in (stdout or "").splitlines():
        words = line.split()
        if len(words) >= 4 and words[2] == "installed" and words[0] in ("install", "hold"):
            found.add(words[3].split(":")[0])
    return sorted(name for name in wanted if name in found)


def installed_from_rpm(stdout, wanted):
    """The names of ``wanted`` that rpm's output shows installed."""
    found = set(line.strip() for line in (stdout or "").splitlines())
    return sorted(name for name in wanted if name in found)


def recorded(record):
    """The package names of a record (``{"packages": [...]}``, or None / empty for no record)."""
    if record in (None, "", {}):
        return []
    if not isinstance(record, dict) or not isinstance(record.get("packages", []), list):
        raise PackageRecordError("the package record is not {\"packages\": [...]}: %r" % (record,))
    return [str(name) for name in record.get("packages", [])]


def read_record(text):
    """The record in ``text`` (the file's content; None when there is no file)."""
    if text is None or not text.strip():
        return None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise PackageRecordError("the package record is not JSON: %s" % exc)
    recorded(record)
    return record


def new_record(wanted, before, after, record=None):
    """``{"packages": [...]}``: the earlier record's names plus each of ``wanted`` that is in ``after`` (installed
    now) and not in ``before`` (installed before the install), sorted."""
    had, has = set(before or []), set(after or [])
    mine = set(recorded(record))
    mine.update(name for name in wanted if name not in had and name in has)
    return {"packages": sorted(mine)}


def record_text(record):
    """The file's content for ``record``."""
    return json.dumps(record, indent=4, sort_keys=True) + "\n"
