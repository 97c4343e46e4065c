# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The host facts nvidia_smi_facts returns with host=true: ansible's own collectors, on this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ansible_collections.homelab.gpu_node.plugins.module_utils import _host_facts as hf


class Module(object):
    """What the collectors call on a module (the boundary: this machine's commands)."""

    params = {}

    def get_bin_path(self, name, *args, **kwargs):
        return shutil.which(name)

    def run_command(self, cmd, **kwargs):
        proc = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr


def test_the_facts_the_roles_read_under_setups_names():
    facts = hf.gather_host_facts(Module())
    assert facts["kernel"] == os.uname().release and facts["nodename"] == os.uname().nodename
    assert facts["architecture"] == os.uname().machine
    assert facts["os_family"] and facts["distribution"] and facts["service_mgr"]
    assert facts["python"]["version"]["major"] == sys.version_info[0]
    assert "pkg_mgr" in facts


def test_setups_bookkeeping_is_never_returned():
    # module_setup would make a later play with gathering=smart skip its own setup
    assert hf.strip_namespace({"ansible_kernel": "6.1", "ansible_module_setup": True,
                               "ansible_gather_subset": ["!all"]}) == {"kernel": "6.1"}
    assert "module_setup" not in hf.gather_host_facts(Module())
