# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive nvidia_smi_facts.main() against replayed real captures.

The node is faked at its boundary: AnsibleModule.run_command answers from a
table (a capture from shared/fixtures/nvidia-smi, or nvidia-smi's real failure
text) and counts every call; get_bin_path and the executable/WSL probes are
faked too. No nvidia-smi and no GPU are needed.
"""

from __future__ import annotations

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import ExitJson, FailJson

from ansible_collections.homelab.gpu_node.plugins.modules import nvidia_smi_facts
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.real_gpu_tree import build_tree

SMI = "/usr/bin/nvidia-smi"
WSL_SMI = "/usr/lib/wsl/lib/nvidia-smi"
XML = ("-q", "-x")
CSV = ("--query-gpu=pci.bus_id,compute_cap", "--format=csv,noheader")
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
             "Make sure that the latest NVIDIA driver is installed and running.\n\n")
MISMATCH = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.144\n"
OLD_DRIVER_CSV = 'Field "compute_cap" is not a valid field to query.\n\n'


class FakeNode:
    """What the module can see of the node: PATH, executables, WSL, and nvidia-smi's replies."""

    def __init__(self):
        self.on_path = SMI
        self.executables = {SMI}
        self.wsl = False
        self.replies = {}
        self.calls = []
        self.warnings = []

    def run_command(self, args, **kwargs):
        assert isinstance(args, list), "run_command must get an argv list, got %r" % (args,)
        self.calls.append(list(args))
        return self.replies.get(tuple(args[1:]), (2, "", "fake nvidia-smi: unexpected arguments %r" % (args,)))

    def which(self, name):
        assert name == "nvidia-smi"
        return self.on_path

    def is_executable(self, path):
        return path in self.executables

    def xml_calls(self):
        return [call for call in self.calls if tuple(call[1:]) == XML]

    def csv_calls(self):
        return [call for call in self.calls if any(arg.startswith("--query-gpu") for arg in call)]


@pytest.fixture
def node(monkeypatch, tmp_path):
    fake = FakeNode()
    # sysfs/procfs: an empty tree (no PCI GPU) unless a test builds one from a capture
    monkeypatch.setattr(nvidia_smi_facts, "_ROOT", str(tmp_path / "root"))

    def exit_json(module, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(module, **kwargs):
        raise FailJson(kwargs)

    monkeypatch.setattr(AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(AnsibleModule, "run_command", lambda module, args, **kw: fake.run_command(args, **kw))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda module, name, *a, **kw: fake.which(name))
    monkeypatch.setattr(AnsibleModule, "warn", lambda module, msg: fake.warnings.append(msg))
    monkeypatch.setattr(nvidia_smi_facts, "_is_executable", fake.is_executable)
    monkeypatch.setattr(nvidia_smi_facts, "_detect_wsl", lambda: fake.wsl)
    return fake


def run_module(args=None):
    with patch_module_args(args or {}):
        with pytest.raises((ExitJson, FailJson)) as caught:
            nvidia_smi_facts.main()
    return caught.value


def exit_facts(args=None):
    outcome = run_module(args)
    assert isinstance(outcome, ExitJson), "module failed: %s" % outcome.result.get("msg")
    assert outcome.result["changed"] is False
    return outcome.result["ansible_facts"]["nvidia"]


def fail_msg(args=None):
    outcome = run_module(args)
    assert isinstance(outcome, FailJson), "module did not fail: %r" % outcome.result
    return outcome.result


# ---------------------------------------------------------------- normal runs

def test_facts_with_compute_capability(node, smi_capture):
    node.replies[XML] = (0, smi_capture("netdata/rtx-4090-driver-535.xml"), "")
    node.replies[CSV] = (0, "00000000:84:00.0, 8.9\n", "")
    facts = exit_facts()
    assert node.calls == [[SMI, "-q", "-x"], [SMI, "--query-gpu=pci.bus_id,compute_cap", "--format=csv,noheader"]]
    assert facts["present"] is True and facts["wsl"] is False
    assert (facts["driver_version"], facts["cuda_version"], facts["count"]) == ("535.86.05", "12.2", 1)
    gpu = facts["gpus"][0]
    assert (gpu["name"], gpu["uuid"], gpu["compute_capability"]) == (
        "NVIDIA GeForce RTX 4090", "GPU-71d1acc2-662d-2166-bf9f-65272d2fc437", "8.9")
    assert facts["labels"]["nvidia.com/gpu.compute.major"] == "8"
    assert facts["labels"]["nvidia.com/gpu.product"] == "NVIDIA-GeForce-RTX-4090"


def test_old_driver_rejects_compute_cap_field(node, smi_capture):
    """Driver 384 (pai capture): the CSV query exits 2; facts still come from the XML."""
    node.replies[XML] = (0, smi_capture("pai/nvidia_smi_sample.xml"), "")
    node.replies[CSV] = (2, OLD_DRIVER_CSV, "")
    facts = exit_facts()
    assert len(node.xml_calls()) == 1 and len(node.csv_calls()) == 1
    assert [g["compute_capability"] for g in facts["gpus"]] == [None, None]
    assert [g["uuid"] for g in facts["gpus"]] == ["GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b",
                                                  "GPU-28daffaf-8abe-aaf8-c298-4bd13aecb5e6"]
    assert (facts["count"], facts["attached_gpus"]) == (2, 6)
    assert node.warnings == []


def test_garbage_csv_reply_is_ignored_with_warning(node, smi_capture):
    node.replies[XML] = (0, smi_capture("netdata/tesla-p100.xml"), "")
    node.replies[CSV] = (0, "something, else, entirely\n", "")
    facts = exit_facts()
    assert facts["gpus"][0]["compute_capability"] is None
    assert len(node.warnings) == 1 and "compute capability" in node.warnings[0]


def test_query_compute_capability_false_runs_once(node, smi_capture):
    node.replies[XML] = (0, smi_capture("netdata/rtx-3060.xml"), "")
    facts = exit_facts({"query_compute_capability": False})
    assert node.calls == [[SMI, "-q", "-x"]]
    assert facts["gpus"][0]["compute_capability"] is None


def test_multi_gpu_out_of_order_with_one_csv_call(node, smi_capture):
    node.replies[XML] = (0, smi_capture("pai/nvidia_smi_out_of_order.xml"), "")
    node.replies[CSV] = (0, "00001580:00:00.0, 3.7\n00002DF7:00:00.0, 3.7\n00004968:00:00.0, 3.7\n"
                            "0000F8D6:00:00.0, 3.7\n", "")
    facts = exit_facts()
    assert len(node.xml_calls()) == 1 and len(node.csv_calls()) == 1
    assert [g["pci_bus_id"] for g in facts["gpus"]] == ["00001580:00:00.0", "00002DF7:00:00.0",
                                                        "00004968:00:00.0", "0000F8D6:00:00.0"]
    assert {g["compute_capability"] for g in facts["gpus"]} == {"3.7"}
    assert facts["cuda_version"] is None  # <cuda_version>Not Found</cuda_version>


def test_mig_capture(node, smi_capture):
    node.replies[XML] = (0, smi_capture("netdata/a100-sxm4-mig.xml"), "")
    node.replies[CSV] = (0, "00000000:00:04.0, 8.0\n", "")
    gpu = exit_facts()["gpus"][0]
    assert gpu["mig_mode"] == "Enabled"
    assert [(d["index"], d["profile"]) for d in gpu["mig_devices"]] == [("0:0", "3g.20gb"), ("0:1", "3g.20gb")]
    assert gpu["compute_capability"] == "8.0"


def test_check_mode_gathers_the_same_facts(node, smi_capture):
    node.replies[XML] = (0, smi_capture("netdata/rtx-4090-driver-535.xml"), "")
    node.replies[CSV] = (0, "00000000:84:00.0, 8.9\n", "")
    normal = exit_facts()
    calls = len(node.calls)
    assert exit_facts({"_ansible_check_mode": True}) == normal
    assert len(node.calls) == 2 * calls


def test_explicit_path(node, smi_capture):
    node.executables.add("/opt/nvidia/bin/nvidia-smi")
    node.replies[XML] = (0, smi_capture("netdata/tesla-p100.xml"), "")
    exit_facts({"nvidia_smi_path": "/opt/nvidia/bin/nvidia-smi", "query_compute_capability": False})
    assert node.calls == [["/opt/nvidia/bin/nvidia-smi", "-q", "-x"]]


def test_wsl_uses_the_windows_driver_binary(node, smi_capture):
    node.wsl = True
    node.on_path = None
    node.executables = {WSL_SMI, SMI}
    node.replies[XML] = (0, smi_capture("netdata/rtx-2080-win.xml"), "")
    node.replies[CSV] = (0, "00000000:0A:00.0, 7.5\n", "")
    facts = exit_facts()
    assert node.calls[0] == [WSL_SMI, "-q", "-x"]
    assert facts["wsl"] is True
    assert facts["gpus"][0]["index"] == 0  # minor_number N/A on Windows


# ---------------------------------------------------------------- no GPU / failures

def test_no_nvidia_smi_is_not_a_failure(node):
    node.on_path = None
    node.executables = set()
    facts = exit_facts()
    assert node.calls == []
    assert facts == {"present": False, "wsl": False, "driver_version": None, "cuda_version": None, "count": 0,
                     "attached_gpus": None, "gpus": [], "labels": {}, "pci_devices": [],
                     "driver": {"loaded": False, "state": "not_installed", "version": None, "flavour": None,
                                "recommended_flavour": None}}


def test_no_nvidia_smi_required_fails(node):
    node.on_path = None
    node.executables = set()
    result = fail_msg({"required": True})
    assert result["reason"] == "not_found"
    assert "nvidia-smi was not found (searched PATH, /usr/lib/wsl/lib/nvidia-smi and /usr/bin/nvidia-smi)" \
        in result["msg"]
    assert node.calls == []


def test_missing_explicit_path_fails_clearly(node):
    result = fail_msg({"nvidia_smi_path": "/does/not/exist/nvidia-smi"})
    assert result["reason"] == "not_found"
    assert result["msg"].startswith("nvidia_smi_path=/does/not/exist/nvidia-smi does not exist")
    assert node.calls == []


@pytest.mark.parametrize("required", [False, True])
def test_no_driver_fails_with_the_fix(node, required):
    """DESIGN 3: nvidia-smi present but unable to reach the driver is a failure, not a CPU-only node."""
    node.replies[XML] = (9, NO_DRIVER, "")
    result = fail_msg({"required": required})
    assert result["reason"] == "no_driver"
    assert "couldn't communicate with the NVIDIA driver" in result["msg"]
    assert "install the NVIDIA driver" in result["msg"]
    assert node.calls == [[SMI, "-q", "-x"]]


def test_no_devices_gives_absent_facts_with_warning(node):
    node.replies[XML] = (6, "No devices were found\n", "")
    facts = exit_facts()
    assert facts["present"] is False and facts["gpus"] == [] and facts["labels"] == {}
    assert node.calls == [[SMI, "-q", "-x"]]
    assert len(node.warnings) == 1 and "No devices were found" in node.warnings[0]
    assert fail_msg({"required": True})["reason"] == "no_devices"


def test_no_driver_on_wsl_required_points_at_windows(node):
    node.wsl = True
    node.replies[XML] = (9, NO_DRIVER, "")
    assert "Windows host" in fail_msg({"required": True})["msg"]


@pytest.mark.parametrize("required", [False, True])
def test_version_mismatch_always_fails_with_reboot_advice(node, required):
    node.replies[XML] = (18, MISMATCH, "")
    result = fail_msg({"required": required})
    assert result["reason"] == "version_mismatch"
    assert "Driver/library version mismatch" in result["msg"]
    assert "reboot the node" in result["msg"] and "Do not reinstall the driver" in result["msg"]
    assert node.calls == [[SMI, "-q", "-x"]]
    # a failed call sets no facts (molecule nvidia_smi_facts_captures asserts it on real nodes)
    assert "ansible_facts" not in result


def test_unknown_failure_quotes_output(node):
    node.replies[XML] = (255, "Failed to initialize NVML: Unknown Error\n", "")
    result = fail_msg()
    assert result["reason"] == "unknown"
    assert 'rc=255) with output: "Failed to initialize NVML: Unknown Error"' in result["msg"]


@pytest.mark.parametrize("output, fragment", [
    ("", "printed nothing"),
    ("Segmentation fault\n", "did not print XML"),
    ("<html/>", "root element <html>"),
    ('<?xml version="1.0" ?>\n<nvidia_smi_log><gpu>', "as XML"),
])
def test_garbage_output_fails_without_traceback(node, output, fragment):
    node.replies[XML] = (0, output, "")
    result = fail_msg()
    assert result["reason"] == "garbage_output"
    assert fragment in result["msg"]
    assert "Traceback" not in result["msg"]
    assert node.csv_calls() == []


def test_xml_without_gpus(node):
    empty = '<?xml version="1.0" ?>\n<nvidia_smi_log><driver_version>550.54.15</driver_version>' \
            "<attached_gpus>0</attached_gpus></nvidia_smi_log>\n"
    node.replies[XML] = (0, empty, "")
    facts = exit_facts()
    assert (facts["present"], facts["driver_version"], facts["labels"]) == (False, "550.54.15", {})
    assert node.csv_calls() == []
    assert fail_msg({"required": True})["reason"] == "no_devices"


# ---------------------------------------------------------------- docs vs argspec

def test_documented_options_match_the_argument_spec():
    doc = yaml.safe_load(nvidia_smi_facts.DOCUMENTATION)
    spec = nvidia_smi_facts.argument_spec()
    assert set(doc["options"]) == set(spec)
    for name, option in doc["options"].items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
    yaml.safe_load(nvidia_smi_facts.EXAMPLES)
    returned = yaml.safe_load(nvidia_smi_facts.RETURN)["ansible_facts"]["contains"]["nvidia"]["contains"]
    assert set(returned) == {"present", "wsl", "driver_version", "cuda_version", "count", "attached_gpus", "gpus",
                             "labels", "driver", "pci_devices"}


# ---------------------------------------------------------------- the PCI bus (issue 14, defect 1)

def real_h200_xml():
    import os
    from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.real_gpu_tree import CAPTURE
    with open(os.path.join(CAPTURE, "nvidia-smi-q-x.xml"), encoding="utf-8") as handle:
        return handle.read()


def h200_root(tmp_path, **kwargs):
    root = str(tmp_path / "h200")
    build_tree(root, **kwargs)
    return root


def test_driverless_gpu_is_present_with_its_driver_state(node, monkeypatch, tmp_path):
    """A fresh server: GPU on the PCI bus, no nvidia-smi, no module. Before issue 14: present=false (skipped)."""
    monkeypatch.setattr(nvidia_smi_facts, "_ROOT", h200_root(tmp_path, driver_loaded=False))
    node.on_path, node.executables = None, set()
    facts = exit_facts()
    assert node.calls == []
    assert facts["present"] is True
    assert facts["driver"] == {"loaded": False, "state": "not_installed", "version": None, "flavour": None,
                               "recommended_flavour": "open"}
    assert facts["pci_devices"] == [{"address": "0000:00:06.0", "vendor_id": "0x10de", "device_id": "0x2335",
                                     "class": "0x030200", "driver": None}]
    assert facts["gpus"] == [] and facts["labels"] == {}


def test_driverless_gpu_required_fails_naming_the_gpu(node, monkeypatch, tmp_path):
    monkeypatch.setattr(nvidia_smi_facts, "_ROOT", h200_root(tmp_path, driver_loaded=False))
    node.on_path, node.executables = None, set()
    result = fail_msg({"required": True})
    assert result["reason"] == "not_found"
    assert "NVIDIA 0x2335 at 0000:00:06.0, with no driver bound" in result["msg"]


def test_installed_but_not_loaded_is_reported_not_failed(node, monkeypatch, tmp_path):
    """nvidia-smi installed, module not loaded (kernel update, Secure Boot): report it so the role reinstalls."""
    monkeypatch.setattr(nvidia_smi_facts, "_ROOT", h200_root(tmp_path, driver_loaded=False))
    node.replies[XML] = (9, NO_DRIVER, "")
    facts = exit_facts()
    assert facts["present"] is True
    assert (facts["driver"]["loaded"], facts["driver"]["state"]) == (False, "not_loaded")
    assert len(node.warnings) == 1 and "couldn't communicate" in node.warnings[0]
    assert fail_msg({"required": True})["reason"] == "no_driver"


def test_mismatch_still_fails_with_a_gpu_on_the_bus(node, monkeypatch, tmp_path):
    monkeypatch.setattr(nvidia_smi_facts, "_ROOT", h200_root(tmp_path))
    node.replies[XML] = (18, MISMATCH, "")
    result = fail_msg()
    assert result["reason"] == "version_mismatch" and "reboot" in result["msg"]


def test_real_h200_with_its_driver(node, monkeypatch, tmp_path):
    """The real capture: nvidia-smi XML plus sysfs plus /proc/driver/nvidia/version (open module)."""
    monkeypatch.setattr(nvidia_smi_facts, "_ROOT", h200_root(tmp_path))
    node.replies[XML] = (0, real_h200_xml(), "")
    node.replies[CSV] = (0, "00000000:00:06.0, 9.0\n", "")
    facts = exit_facts()
    assert facts["present"] is True and facts["driver_version"] == "580.159.04"
    assert facts["driver"] == {"loaded": True, "state": "loaded", "version": "580.159.04", "flavour": "open",
                               "recommended_flavour": "open"}
    assert facts["pci_devices"][0]["driver"] == "nvidia"
    assert facts["gpus"][0]["compute_capability"] == "9.0"


def test_cpu_only_node_is_still_absent(node):
    node.on_path, node.executables = None, set()
    facts = exit_facts()
    assert facts["present"] is False and facts["pci_devices"] == []
    assert facts["driver"]["state"] == "not_installed"
