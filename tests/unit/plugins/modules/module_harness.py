# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared harness for driving a module's main() in unit tests (core 2.19).

exit_json/fail_json are replaced by functions raising ExitJson/FailJson, whose
``result`` (also ``args[0]``) is what the module returned.
"""

from __future__ import annotations


class ExitJson(Exception):
    def __init__(self, kwargs):
        super(ExitJson, self).__init__(kwargs)
        self.result = kwargs


class FailJson(Exception):
    def __init__(self, kwargs):
        super(FailJson, self).__init__(kwargs)
        self.result = kwargs


def exit_json(self, **kwargs):
    raise ExitJson(kwargs)


def fail_json(self, msg=None, **kwargs):
    kwargs["msg"] = msg
    raise FailJson(kwargs)


def patch_exits(monkeypatch):
    """Make AnsibleModule.exit_json/fail_json raise ExitJson/FailJson."""
    from ansible.module_utils.basic import AnsibleModule

    monkeypatch.setattr(AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(AnsibleModule, "fail_json", fail_json)


def run_main(module, args, expect=ExitJson):
    """Run ``module.main()`` with ``args``; return what it passed to exit_json (or fail_json with FailJson)."""
    import pytest
    from ansible.module_utils.testing import patch_module_args

    with patch_module_args(args):
        with pytest.raises(expect) as info:
            module.main()
    return info.value.result
