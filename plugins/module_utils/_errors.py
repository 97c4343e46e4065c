# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""One small exception hierarchy for the collection.

Every error carries the user-facing message; modules turn it into
``fail_json(msg=str(exc))`` without a traceback.
"""

from __future__ import annotations


class GpuNodeError(Exception):
    """Base class: the message is what the user sees."""


class NvidiaSmiError(GpuNodeError):
    """nvidia-smi is missing, failed, or printed something we cannot read."""

    def __init__(self, msg, reason=None):
        super(NvidiaSmiError, self).__init__(msg)
        self.reason = reason


class DevicePluginConfigError(GpuNodeError):
    """A device plugin config that upstream would reject."""


class RuntimeConfigError(GpuNodeError):
    """A container engine config that cannot be read or would be broken."""
