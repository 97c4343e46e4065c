# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_wslconfig.py: .wslconfig merge round trips."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _wslconfig as wc
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wslconfig import (
    WslConfigError,
    decode_wslconfig,
    encode_wslconfig,
    merge_wslconfig,
    same_value,
    split_inline_comment,
    validate_settings,
)

# The WSL2 desktop homelab's settings, as the role passes them.
SEED_WSL2 = dict(memory="32GB", processors=8, networkingMode="bridged", vmSwitch="WSLBridge",
                 macAddress="02:15:5d:4a:10:35", vmIdleTimeout=-1)

# A user's file as people write them: CRLF, comments of both kinds, a key with
# different case, an inline comment, keys we do not own, an [experimental] key
# we do not own, a [general] section WSL added.
USER_FILE = (
    "# Settings for my gaming PC\r\n"
    "; keep swap off, it thrashes the SSD\r\n"
    "[wsl2]\r\n"
    "Memory=16GB  # half of my RAM\r\n"
    "swap=0\r\n"
    "kernelCommandLine = cgroup_no_v1=all\r\n"
    "guiApplications=false\r\n"
    "\r\n"
    "[experimental]\r\n"
    "autoMemoryReclaim=gradual\r\n"
    "sparseVhd=true\r\n"
    "\r\n"
    "[general]\r\n"
    "instanceIdleTimeout=-1\r\n"
)


def _lines(text):
    return text.replace("\r\n", "\n").split("\n")


def test_merge_keeps_every_user_line_and_comment():
    result = merge_wslconfig(USER_FILE, wsl2=SEED_WSL2)
    assert result["changed"]
    new = result["text"]
    for line in ("# Settings for my gaming PC", "; keep swap off, it thrashes the SSD", "swap=0",
                 "kernelCommandLine = cgroup_no_v1=all", "guiApplications=false", "autoMemoryReclaim=gradual",
                 "sparseVhd=true", "[general]", "instanceIdleTimeout=-1"):
        assert line in _lines(new), line
    # the user's spelling of the key and the comment after the value are kept
    assert "Memory=32GB  # half of my RAM" in _lines(new)
    assert "memory=32GB" not in new
    # new keys go right after the section's last key, not after the blank line
    wsl2 = new.split("[wsl2]\r\n")[1].split("\r\n\r\n")[0].split("\r\n")
    assert wsl2 == ["Memory=32GB  # half of my RAM", "swap=0", "kernelCommandLine = cgroup_no_v1=all",
                    "guiApplications=false", "processors=8", "networkingMode=bridged", "vmSwitch=WSLBridge",
                    "macAddress=02:15:5d:4a:10:35", "vmIdleTimeout=-1"]
    # order of sections unchanged, line ends unchanged
    assert new.index("[wsl2]") < new.index("[experimental]") < new.index("[general]")
    assert "\n" not in new.replace("\r\n", "")


def test_second_merge_is_a_no_op_and_returns_the_same_text():
    first = merge_wslconfig(USER_FILE, wsl2=SEED_WSL2, experimental=dict(sparseVhd=True))
    second = merge_wslconfig(first["text"], wsl2=SEED_WSL2, experimental=dict(sparseVhd=True))
    assert not second["changed"]
    assert second["changes"] == []
    assert second["text"] is first["text"]


def test_nothing_wanted_returns_input_untouched_even_when_configupdater_would_normalise():
    odd = "[wsl2]\nmemory=8GB"  # no final newline
    result = merge_wslconfig(odd, wsl2=dict(memory="8GB"))
    assert not result["changed"]
    assert result["text"] == odd


def test_changes_report_before_and_after():
    result = merge_wslconfig(USER_FILE, wsl2=dict(memory="32GB", processors=8))
    assert result["changes"] == [
        {"section": "wsl2", "key": "Memory", "before": "16GB  # half of my RAM", "after": "32GB  # half of my RAM"},
        {"section": "wsl2", "key": "processors", "before": None, "after": "8"},
    ]


def test_missing_file_gets_the_sections_we_need():
    result = merge_wslconfig("", wsl2=SEED_WSL2, experimental=dict(hostAddressLoopback=False))
    assert result["text"] == (
        "[wsl2]\r\nmemory=32GB\r\nprocessors=8\r\nnetworkingMode=bridged\r\nvmSwitch=WSLBridge\r\n"
        "macAddress=02:15:5d:4a:10:35\r\nvmIdleTimeout=-1\r\n\r\n[experimental]\r\nhostAddressLoopback=false\r\n"
    )


def test_lf_file_stays_lf_and_section_is_added_after_a_blank_line():
    result = merge_wslconfig("[wsl2]\nmemory=8GB\n", experimental=dict(sparseVhd=True))
    assert result["text"] == "[wsl2]\nmemory=8GB\n\n[experimental]\nsparseVhd=true\n"


def test_sections_and_keys_match_case_insensitively_like_wsl():
    text = "[WSL2]\nNETWORKINGMODE=Bridged\nVMSWITCH=WSLBridge\nMacAddress=02-15-5D-4A-10-35\nvmidletimeout=0x0\n"
    result = merge_wslconfig(text, wsl2=dict(networkingMode="bridged", vmSwitch="WSLBridge",
                                             macAddress="02:15:5d:4a:10:35", vmIdleTimeout=0))
    assert not result["changed"], result["changes"]
    assert "[wsl2]" not in result["text"]  # no second section added


def test_booleans_compare_as_wsl_reads_them():
    result = merge_wslconfig("[wsl2]\ndhcp=FALSE\n[experimental]\nsparseVhd=1\n",
                             wsl2=dict(dhcp=False), experimental=dict(sparseVhd=True))
    assert not result["changed"]


def test_duplicate_keys_are_all_set():
    text = "[wsl2]\nmemory=8GB\n[wsl2]\nmemory=12GB\n"
    result = merge_wslconfig(text, wsl2=dict(memory="32GB"))
    assert result["text"] == "[wsl2]\nmemory=32GB\n[wsl2]\nmemory=32GB\n"
    assert result["settings"]["memory"] == "32GB"


def test_old_experimental_networking_mode_is_removed_with_a_warning():
    text = "[wsl2]\nmemory=8GB\n\n[experimental]\nnetworkingMode=mirrored\nhostAddressLoopback=true\n"
    result = merge_wslconfig(text, wsl2=dict(networkingMode="mirrored"))
    assert "[experimental]\nhostAddressLoopback=true\n" in result["text"]
    assert "networkingMode=mirrored" in result["text"].split("[experimental]")[0]
    assert any("old name" in w for w in result["warnings"])
    # mirrored: hostAddressLoopback is fine, no warning about it
    assert not any("hostAddressLoopback" in w for w in result["warnings"])


@pytest.mark.parametrize("mode", ["bridged", "nat", None], ids=["bridged", "nat", "default-nat"])
def test_host_address_loopback_warns_outside_mirrored_mode(mode):
    wsl2 = dict(networkingMode=mode, vmSwitch="WSLBridge") if mode else {}
    result = merge_wslconfig("[experimental]\nhostAddressLoopback=true\n", wsl2=wsl2)
    assert any("hostAddressLoopback=true only works with networkingMode=mirrored" in w
               and "networkingMode=%s" % (mode or "nat") in w for w in result["warnings"])


def test_seed_000_file_warns_about_host_address_loopback():
    seed = ("[wsl2]\nmemory=32GB\nprocessors=8\nnetworkingMode=bridged\nvmSwitch=WSLBridge\n\n"
            "[experimental]\nhostAddressLoopback=true\n")
    result = merge_wslconfig(seed, wsl2=dict(memory="32GB"))
    assert not result["changed"]
    assert len(result["warnings"]) == 1


def test_bridged_without_vmswitch_fails_clearly():
    with pytest.raises(WslConfigError, match="networkingMode=bridged needs vmSwitch"):
        merge_wslconfig("[wsl2]\nmemory=8GB\n", wsl2=dict(networkingMode="bridged"))
    # the switch may already be in the user's file
    assert merge_wslconfig("[wsl2]\nvmSwitch=LAN\n", wsl2=dict(networkingMode="bridged"))["changed"]


def test_remove_keys():
    text = "[wsl2]\nnetworkingMode=bridged\nvmSwitch=WSLBridge\nswap=0\n[experimental]\nhostAddressLoopback=true\n"
    result = merge_wslconfig(text, wsl2=dict(networkingMode="nat"),
                             remove=["wsl2.vmSwitch", "experimental.hostAddressLoopback"])
    assert result["text"] == "[wsl2]\nnetworkingMode=nat\nswap=0\n[experimental]\n"
    again = merge_wslconfig(result["text"], wsl2=dict(networkingMode="nat"),
                            remove=["wsl2.vmSwitch", "experimental.hostAddressLoopback"])
    assert not again["changed"]


def test_unparseable_file_fails_with_the_reason():
    with pytest.raises(WslConfigError, match="cannot read the existing .wslconfig"):
        merge_wslconfig("memory=8GB\n[wsl2]\n", wsl2=dict(memory="8GB"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(wsl2=dict(memory="32gb")), "upper-case suffix"),
        (dict(wsl2=dict(memory="32 GB")), "not a size"),
        (dict(wsl2=dict(processors=0)), "processors=0"),
        (dict(wsl2=dict(networkingMode="bridge")), "must be one of"),
        (dict(wsl2=dict(vmSwitch="")), "vmSwitch"),
        (dict(wsl2=dict(macAddress="02:15:5d:4a:10")), "macAddress"),
        (dict(wsl2=dict(macAddress="01:00:5e:00:00:01")), "multicast"),
        (dict(wsl2=dict(vmIdleTimeout=-2)), "vmIdleTimeout"),
        (dict(wsl2=dict(dhcp="no")), "dhcp"),
        (dict(wsl2=dict(swap="0")), "not a key this plugin manages"),
        (dict(experimental={"bad key": 1}), "not a valid .wslconfig key"),
        (dict(experimental=dict(ignoredPorts="1\n2")), "single-line"),
        (dict(remove=["general.instanceIdleTimeout"]), "must be 'wsl2.<key>'"),
        (dict(remove=["wsl2.swap"]), "only keys this plugin manages"),
        (dict(wsl2=dict(vmSwitch="X"), remove=["wsl2.vmSwitch"]), "both set and removed"),
    ],
    ids=["mem-lowercase", "mem-space", "cpu-0", "mode", "switch-empty", "mac-short", "mac-multicast",
         "idle", "dhcp", "unowned", "exp-key", "exp-value", "remove-section", "remove-unowned", "set-and-remove"],
)
def test_validation_messages(kwargs, message):
    with pytest.raises(WslConfigError, match=message):
        validate_settings(**kwargs)


def test_valid_memory_units():
    for value in ("512M", "512MB", "32G", "32GB", "1T", "1TB", "1073741824", "1024K", "1024KB", "100B"):
        validate_settings(wsl2=dict(memory=value))


@pytest.mark.parametrize(
    "raw, value, comment",
    [
        ("8GB", "8GB", ""),
        ("8GB  # half", "8GB", "# half"),
        ('"a # b"  # c', '"a # b"', "# c"),
        ('a \\" # b', 'a \\"', "# b"),
        ("", "", ""),
    ],
)
def test_split_inline_comment(raw, value, comment):
    assert split_inline_comment(raw) == (value, comment)


def test_same_value_rules():
    assert same_value("memory", "32GB # x", "32GB")
    assert not same_value("memory", "32gb", "32GB")  # WSL's units are case-sensitive
    assert same_value("vmIdleTimeout", "-1", -1)
    assert not same_value("processors", "eight", 8)
    assert same_value("vmSwitch", '"WSLBridge"', "WSLBridge")


# --- encodings --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, encoding",
    [
        (b"[wsl2]\r\nmemory=8GB\r\n", "utf-8"),
        (b"\xef\xbb\xbf[wsl2]\r\nmemory=8GB\r\n", "utf-8-sig"),
        (b"\xff\xfe" + "[wsl2]\r\nmemory=8GB\r\n".encode("utf-16-le"), "utf-16-le-bom"),
    ],
    ids=["utf8", "utf8-bom-as-wsl-settings-writes", "utf16le-bom-as-notepad-unicode"],
)
def test_encoding_round_trip(data, encoding):
    text, found = decode_wslconfig(data)
    assert found == encoding
    assert text == "[wsl2]\r\nmemory=8GB\r\n"
    assert encode_wslconfig(text, found) == data
    merged = merge_wslconfig(text, wsl2=dict(memory="16GB"))
    assert encode_wslconfig(merged["text"], found) == encode_wslconfig("[wsl2]\r\nmemory=16GB\r\n", encoding)
    assert encode_wslconfig(merged["text"], found)[:3] == data[:3]  # BOM (or its absence) kept


def test_user_comment_with_non_ascii_survives():
    data = "# Speicher für WSL\n[wsl2]\nmemory=8GB\n".encode("utf-8")
    text, encoding = decode_wslconfig(data)
    merged = merge_wslconfig(text, wsl2=dict(memory="16GB"))
    assert encode_wslconfig(merged["text"], encoding) == "# Speicher für WSL\n[wsl2]\nmemory=16GB\n".encode("utf-8")


def test_not_utf8_or_big_endian_fails():
    with pytest.raises(WslConfigError, match="not valid UTF-8"):
        decode_wslconfig("# Größe\n".encode("cp1252"))
    with pytest.raises(WslConfigError, match="big-endian"):
        decode_wslconfig(b"\xfe\xff\x00[")


def test_missing_file_decodes_to_empty_utf8():
    assert decode_wslconfig(None) == ("", "utf-8")


def test_missing_configupdater_gives_the_install_hint(monkeypatch):
    monkeypatch.setattr(wc, "HAS_CONFIGUPDATER", False)
    with pytest.raises(WslConfigError, match="pip install configupdater"):
        merge_wslconfig("", wsl2=dict(memory="8GB"))


# --- indented keys and mixed line ends (issue 15) ---------------------------------


def test_indented_key_is_a_key_and_survives_a_change_of_the_key_above():
    # configparser reads "  processors=4" as a continuation of memory's value, so the
    # old merge replaced "8GB\n  processors=4" and the key was lost; WSL reads it as a key.
    text = "[wsl2]\nmemory=8GB\n  processors=4\n"
    merged = merge_wslconfig(text, wsl2=dict(memory="16GB"))
    assert merged["text"] == "[wsl2]\nmemory=16GB\n  processors=4\n"
    assert merged["settings"]["processors"] == "4"
    assert merged["changes"] == [{"section": "wsl2", "key": "memory", "before": "8GB", "after": "16GB"}]


def test_indented_key_we_own_keeps_its_indentation():
    merged = merge_wslconfig("[wsl2]\r\nmemory=8GB\r\n    processors=4\r\n", wsl2=dict(processors=8))
    assert merged["text"] == "[wsl2]\r\nmemory=8GB\r\n    processors=8\r\n"


def test_indented_key_is_no_change_when_its_value_is_already_right():
    text = "[wsl2]\nmemory=8GB\n  processors=4\n"
    merged = merge_wslconfig(text, wsl2=dict(processors=4, memory="8GB"))
    assert merged["changed"] is False
    assert merged["text"] is text


def test_mixed_line_ends_keep_untouched_lines_byte_for_byte():
    text = "# mine\r\n[wsl2]\nmemory=8GB\r\n  swap=0\n# keep swap off\r\nguiApplications=false"
    merged = merge_wslconfig(text, wsl2=dict(memory="32GB", processors=8))
    # memory keeps its own CRLF; the new key gets the file's CRLF; the rest is untouched,
    # including the last line without a line end
    assert merged["text"] == (
        "# mine\r\n[wsl2]\nmemory=32GB\r\n  swap=0\n# keep swap off\r\nguiApplications=false\r\nprocessors=8\r\n"
    )


def test_mixed_line_ends_new_section_uses_the_dominant_line_end():
    text = "[wsl2]\nswap=0\r\n"
    merged = merge_wslconfig(text, experimental=dict(autoMemoryReclaim="gradual"))
    assert merged["text"] == "[wsl2]\nswap=0\r\n\r\n[experimental]\r\nautoMemoryReclaim=gradual\r\n"


def test_removed_key_takes_only_its_own_line():
    text = "[experimental]\nhostAddressLoopback=true\r\n  sparseVhd=true\n"
    merged = merge_wslconfig(text, remove=["experimental.hostAddressLoopback"])
    assert merged["text"] == "[experimental]\n  sparseVhd=true\n"
