# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plans for the NVIDIA runtime on containerd, k3s, MicroK8s and Docker.

The configs are real files (``containerd config default`` of Debian's containerd
1.6.20, 1.7.24 and 2.1.9, Debian's packaged /etc/containerd/config.toml,
MicroK8s's containerd-template.toml) or hand-made ones; their provenance is in
fixtures/runtime_config/README.md. A plan is "applied" to an in-memory dict of
files, so idempotence and state=absent round trips are checked without a disk.

Set HOMELAB_CONTAINERD_BINS to a colon-separated list of containerd binaries to
also check the written files with ``containerd --config ... config dump``.
"""

from __future__ import annotations

import copy
import difflib
import glob as globmod
import json
import os
import re
import subprocess

import pytest

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from ansible_collections.homelab.gpu_node.plugins.module_utils import _runtime_config as rc
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import RuntimeConfigError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "runtime_config")
MAIN = "/etc/containerd/config.toml"
DROPIN = "/etc/containerd/conf.d/99-nvidia.toml"
NV = "/usr/bin/nvidia-container-runtime"
K3S = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"
K3S_TMPL3 = "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl"
K3S_TMPL2 = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl"
K3S_DROPIN3 = "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.d/99-nvidia.toml"
MK8S = "/var/snap/microk8s/current/args/containerd-template.toml"
DOCKER = "/etc/docker/daemon.json"
V2 = "io.containerd.grpc.v1.cri"
V3 = "io.containerd.cri.v1.runtime"


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def opts(**kwargs):
    return rc.RuntimeOptions(**kwargs)


def apply(plan, files):
    """Apply a plan to a dict of path -> text (a missing key or None is a missing file)."""
    out = dict((path, text) for path, text in files.items() if text is not None)
    for change in plan.changes:
        assert out.get(change.path) == change.before, "plan built on stale text for %s" % change.path
        if change.after is None:
            out.pop(change.path, None)
        else:
            out[change.path] = change.after
    return out


def containerd_plan(files, options, main=MAIN):
    def fake_glob(pattern):
        return sorted(path for path in files if rc._glob_match(pattern, path))
    order = rc.containerd_import_order(main, files.get(main), fake_glob)
    imported = [(path, files.get(path)) for path in order]
    return rc.plan_containerd(main, files.get(main), files.get(rc.containerd_dropin_path(main)), options, imported)


def changed_lines(old, new):
    """Lines removed and added between two texts (unified diff, no context)."""
    removed, added = [], []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith("---") or line.startswith("+++") or line.startswith("@@"):
            continue
        (removed if line.startswith("-") else added).append(line[1:])
    return removed, added


def cri_of(data, plugin):
    return data["plugins"][plugin]


# --------------------------------------------------------------------------
# TOML writing
# --------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "plain", 'with "quotes"', "back\\slash", "new\nline", "tab\there", "ctrl\x01\x1f\x7f", "ünïcødé ✓",
    "C:\\Program Files\\nvidia", "'single'", "", "${RUNTIME}", "# not a comment", "trailing\\",
], ids=lambda v: repr(v)[:20])
def test_toml_string_round_trips(value):
    assert tomllib.loads("k = " + rc.toml_string(value))["k"] == value


def test_dumps_toml_round_trips_nested_data_with_odd_keys():
    data = {
        "version": 2,
        "imports": ["/a b.toml", 'q"uote'],
        "plugins": {
            "io.containerd.grpc.v1.cri": {
                "enable_cdi": True,
                "ratio": 0.02,
                "big": -(2 ** 40),
                "containerd": {"runtimes": {"nvidia": {"options": {"BinaryName": "/x y/z", "Arr": [1, 2]}}}},
                "empty": {},
            },
            "key with spaces": {"ü": "v", "inline": [{"a": 1}, {"b": "c"}]},
        },
    }
    text = rc.dumps_toml(data, ["# header"])
    assert text.startswith("# header\n")
    assert tomllib.loads(text) == data
    assert '[plugins."io.containerd.grpc.v1.cri".empty]' in text


def test_dumps_toml_rejects_unknown_types():
    with pytest.raises(RuntimeConfigError, match="cannot write"):
        rc.dumps_toml({"x": object()})


# --------------------------------------------------------------------------
# containerd
# --------------------------------------------------------------------------

CONTAINERD_FIXTURES = [
    ("containerd-1.6.20-default.toml", 2),
    ("containerd-1.7.24-default.toml", 2),
    ("containerd-2.1.9-default.toml", 3),
    ("debian-bookworm-etc-containerd-config.toml", 2),
    ("containerd-v2-custom-runtime.toml", 2),
]
OPTION_SETS = [
    dict(),
    dict(set_as_default=True),
    dict(cdi=True),
    dict(set_as_default=True, cdi=True, runtime_name="nvidia-gpu", runtime_path="/opt/nv bin/ncr"),
]


@pytest.mark.parametrize("name,version", CONTAINERD_FIXTURES, ids=[f[0] for f in CONTAINERD_FIXTURES])
@pytest.mark.parametrize("kwargs", OPTION_SETS, ids=["plain", "default", "cdi", "all+custom-name"])
def test_containerd_present_then_rerun_then_absent(name, version, kwargs):
    original = fixture(name)
    files = {MAIN: original}
    options = opts(**kwargs)
    runtime = options.runtime_name
    plugin = {2: V2, 3: V3}[version]

    plan = containerd_plan(files, options)
    assert plan.summary["config_version"] == version
    assert plan.summary["cri_plugin"] == plugin
    assert {c.path: c.action for c in plan.changes} == {DROPIN: "create", MAIN: "update"}
    after = apply(plan, files)

    # main config: only the imports line differs, and it now loads the drop-in
    old_data, new_data = tomllib.loads(original), tomllib.loads(after[MAIN])
    assert new_data.pop("imports") == old_data.pop("imports", []) + [DROPIN]
    assert new_data == old_data
    removed, added = changed_lines(original, after[MAIN])
    assert len(added) == 1 and added[0].lstrip().startswith("imports = ")
    assert all(line.lstrip().startswith("imports = ") for line in removed)

    # drop-in: same version, the runtime in the plugin of that version
    dropin = tomllib.loads(after[DROPIN])
    assert dropin["version"] == version
    assert list(dropin["plugins"]) == [plugin]
    cri = cri_of(dropin, plugin)
    table = cri["containerd"]["runtimes"][runtime]
    assert table["runtime_type"] == "io.containerd.runc.v2"
    assert table["options"]["BinaryName"] == options.runtime_path
    if options.set_as_default:
        assert cri["containerd"]["default_runtime_name"] == runtime
    else:
        assert cri["containerd"].get("default_runtime_name") != runtime
    main_cri = old_data.get("plugins", {}).get(plugin, {})
    if options.cdi:
        assert cri["enable_cdi"] is True
        # containerd's default spec directories are always there (nvidia-ctk writes to /var/run/cdi)
        assert cri["cdi_spec_dirs"][-2:] == ["/etc/cdi", "/var/run/cdi"] or \
            set(["/etc/cdi", "/var/run/cdi"]) <= set(cri["cdi_spec_dirs"])
    elif version == 2:
        assert cri.get("enable_cdi") == main_cri.get("enable_cdi")  # copied, not changed
    else:
        assert "enable_cdi" not in cri
    if version == 2:
        # containerd 1.x replaces the whole section: everything of the main config is carried over
        for key, value in main_cri.items():
            if key not in ("containerd", "enable_cdi", "cdi_spec_dirs"):
                assert cri[key] == value, key
        runc = main_cri.get("containerd", {}).get("runtimes", {}).get("runc")
        assert cri["containerd"]["runtimes"]["runc"] == (runc or {"runtime_type": "io.containerd.runc.v2"})
    else:
        assert set(cri["containerd"]) <= {"runtimes", "default_runtime_name"}
        assert list(cri["containerd"]["runtimes"]) == [runtime]

    # a second run changes nothing
    assert not containerd_plan(after, options).changed

    # absent restores the main config byte for byte and removes the drop-in
    gone = apply(containerd_plan(after, opts(state="absent", runtime_name=runtime)), after)
    assert gone == {MAIN: original}
    assert not containerd_plan(gone, opts(state="absent")).changed


def test_runtime_inherits_the_default_runtime_settings():
    files = {MAIN: fixture("containerd-v2-custom-runtime.toml")}
    plan = containerd_plan(files, opts())
    cri = cri_of(tomllib.loads(plan.change(DROPIN).after), V2)
    nvidia = cri["containerd"]["runtimes"]["nvidia"]
    assert plan.summary["runtime_options_from"] == "runc"
    assert nvidia["options"] == {"SystemdCgroup": True, "BinaryName": NV}
    assert cri["containerd"]["runtimes"]["runsc"]["options"]["ConfigPath"] == "/etc/containerd/runsc.toml"


def test_custom_runtime_and_comments_of_the_main_config_survive():
    original = fixture("containerd-v2-custom-runtime.toml")
    after = apply(containerd_plan({MAIN: original}, opts(set_as_default=True)), {MAIN: original})
    removed, added = changed_lines(original, after[MAIN])
    assert removed == ["imports = ['/etc/containerd/certs.toml']   # registry credentials live here"]
    assert added == ["imports = ['/etc/containerd/certs.toml', \"%s\"]   # registry credentials live here" % DROPIN]
    for block in ("runtimes.runsc]", "ConfigPath", "# gVisor, used through RuntimeClass", "SystemdCgroup = true"):
        assert block in after[MAIN]


def test_files_imported_before_the_dropin_are_merged_into_the_copy():
    files = {
        MAIN: fixture("containerd-v2-custom-runtime.toml"),
        "/etc/containerd/certs.toml": fixture("containerd-v2-certs-import.toml"),
    }
    plan = containerd_plan(files, opts())
    cri = cri_of(tomllib.loads(plan.change(DROPIN).after), V2)
    assert cri["registry"]["configs"]["registry.lab.example:5000"]["tls"]["insecure_skip_verify"] is True
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.9"


@pytest.mark.parametrize("entry", ["/etc/containerd/conf.d/*.toml", "conf.d/*.toml", "./conf.d/99-nvidia.toml",
                                   "/etc/containerd/conf.d/99-*.toml", DROPIN])
def test_existing_import_that_covers_the_dropin_leaves_the_main_config_alone(entry):
    main = 'version = 2\nimports = ["%s"]\n' % entry
    plan = containerd_plan({MAIN: main}, opts())
    assert [c.path for c in plan.changes] == [DROPIN]
    assert plan.summary["import_added"] is False


@pytest.mark.parametrize("entry", ["/etc/containerd/*.toml", "/etc/containerd/conf.d/*.conf", "/etc/*/99-nvidia.toml/x"])
def test_import_that_does_not_cover_the_dropin(entry):
    assert not rc.import_covers(MAIN, entry, DROPIN)


def test_glob_drop_ins_before_and_after_ours():
    files = {
        MAIN: 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n',
        "/etc/containerd/conf.d/50-mirror.toml": 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n'
                                                 '  sandbox_image = "lab/pause:3.9"\n',
        "/etc/containerd/conf.d/99-zzz.toml": 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n'
                                              '  enable_selinux = true\n',
    }
    plan = containerd_plan(files, opts())
    cri = cri_of(tomllib.loads(plan.change(DROPIN).after), V2)
    assert cri["sandbox_image"] == "lab/pause:3.9"
    assert "enable_selinux" not in cri
    assert len(plan.warnings) == 1 and "99-zzz.toml" in plan.warnings[0]


def test_multiline_imports_array_round_trip():
    original = ('version = 2\n'
                'imports = [\n'
                '  "/etc/containerd/a.toml",  # first\n'
                ']\n'
                '\n[grpc]\n  address = "/run/containerd/containerd.sock"\n')
    files = {MAIN: original, "/etc/containerd/a.toml": "version = 2\n"}
    after = apply(containerd_plan(files, opts()), files)
    assert tomllib.loads(after[MAIN])["imports"] == ["/etc/containerd/a.toml", DROPIN]
    assert "# first" in after[MAIN]
    back = apply(containerd_plan(after, opts(state="absent")), after)
    assert back[MAIN] == original


def test_missing_main_config_is_created_and_removed_again():
    plan = containerd_plan({}, opts())
    assert {c.path: c.action for c in plan.changes} == {DROPIN: "create", MAIN: "create"}
    files = apply(plan, {})
    assert tomllib.loads(files[MAIN]) == {"version": 2, "imports": [DROPIN]}
    runtimes = cri_of(tomllib.loads(files[DROPIN]), V2)["containerd"]["runtimes"]
    assert set(runtimes) == {"runc", "nvidia"}  # runc must survive containerd 1.x's section replacement
    assert not containerd_plan(files, opts()).changed
    assert apply(containerd_plan(files, opts(state="absent")), files) == {}


def test_comment_only_main_config_gets_version_and_import():
    files = {MAIN: "# managed elsewhere\n"}
    after = apply(containerd_plan(files, opts()), files)
    assert tomllib.loads(after[MAIN]) == {"version": 2, "imports": [DROPIN]}
    assert after[MAIN].endswith("# managed elsewhere\n")


def test_version_1_config_is_refused():
    files = {MAIN: '[plugins.cri.containerd]\n  snapshotter = "overlayfs"\n'}
    with pytest.raises(RuntimeConfigError, match="version 1"):
        containerd_plan(files, opts())


def test_non_integer_version_is_refused():
    with pytest.raises(RuntimeConfigError, match="version must be an integer"):
        containerd_plan({MAIN: 'version = "2"\n'}, opts())


def test_broken_main_config_names_the_file_and_the_parser_message():
    files = {MAIN: fixture("broken.toml")}
    with pytest.raises(RuntimeConfigError) as err:
        containerd_plan(files, opts())
    message = str(err.value)
    assert MAIN in message and "Illegal character" in message and "line 4" in message


def test_broken_dropin_is_reported_not_replaced():
    files = {MAIN: fixture("containerd-1.7.24-default.toml"), DROPIN: fixture("broken.toml")}
    with pytest.raises(RuntimeConfigError, match=re.escape(DROPIN)):
        containerd_plan(files, opts())


def test_reformatted_dropin_with_the_same_meaning_is_not_a_change():
    files = {MAIN: fixture("containerd-2.1.9-default.toml")}
    after = apply(containerd_plan(files, opts()), files)
    data = tomllib.loads(after[DROPIN])
    after[DROPIN] = "# my own comment\n" + json_like_toml(data)
    assert not containerd_plan(after, opts()).changed


def json_like_toml(data):
    """The same data written differently: one table per line with inline tables."""
    lines = ["version = %d" % data["version"]]
    for key, value in data["plugins"].items():
        lines.append("[plugins.%s]" % rc.toml_string(key))
        for sub, subvalue in value.items():
            lines.append("%s = %s" % (sub, rc.toml_value(subvalue)))
    return "\n".join(lines) + "\n"


def test_main_config_change_refreshes_the_v2_copy():
    files = {MAIN: fixture("containerd-1.7.24-default.toml")}
    after = apply(containerd_plan(files, opts()), files)
    after[MAIN] = after[MAIN].replace('sandbox_image = "registry.k8s.io/pause:3.8"',
                                      'sandbox_image = "registry.k8s.io/pause:3.10"')
    plan = containerd_plan(after, opts())
    assert [c.path for c in plan.changes] == [DROPIN]
    assert cri_of(tomllib.loads(plan.change(DROPIN).after), V2)["sandbox_image"] == "registry.k8s.io/pause:3.10"


def test_absent_keeps_an_import_line_written_by_someone_else():
    original = 'version = 2\nimports = ["/etc/containerd/x.toml", "%s"]\n' % DROPIN
    files = {MAIN: original, DROPIN: "version = 2\n"}
    after = apply(containerd_plan(files, opts(state="absent")), files)
    assert after == {MAIN: 'version = 2\nimports = ["/etc/containerd/x.toml"]\n'}


def test_absent_with_nothing_to_remove_is_no_change():
    assert not containerd_plan({MAIN: fixture("containerd-2.1.9-default.toml")}, opts(state="absent")).changed


@pytest.mark.skipif(not os.environ.get("HOMELAB_CONTAINERD_BINS"), reason="set HOMELAB_CONTAINERD_BINS to run")
@pytest.mark.parametrize("name", [f[0] for f in CONTAINERD_FIXTURES])
def test_real_containerd_reads_the_result(tmp_path, name):
    """``containerd config dump`` of the written files keeps runc's settings and shows the nvidia runtime."""
    binaries = [b for b in os.environ["HOMELAB_CONTAINERD_BINS"].split(":") if b]
    main = str(tmp_path / "config.toml")
    certs = str(tmp_path / "certs.toml")
    original = fixture(name).replace("SystemdCgroup = false", "SystemdCgroup = true")
    original = original.replace("/etc/containerd/certs.toml", certs)
    before = {main: original, certs: fixture("containerd-v2-certs-import.toml")}
    files = apply(containerd_plan(before, opts(set_as_default=True), main=main), before)
    for path, text in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    version = tomllib.loads(original).get("version")
    for binary in binaries:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
        if version == 3 and " 1." in out:
            continue  # containerd 1.x cannot read version 3
        dump = subprocess.run([binary, "--config", main, "config", "dump"], capture_output=True, text=True,
                              check=False)
        assert dump.returncode == 0, dump.stderr
        effective = tomllib.loads(dump.stdout)
        cri = effective["plugins"][V3 if "io.containerd.cri.v1.runtime" in effective["plugins"] else V2]
        runtimes = cri["containerd"]["runtimes"]
        assert runtimes["nvidia"]["options"]["BinaryName"] == NV, binary
        assert cri["containerd"]["default_runtime_name"] == "nvidia", binary
        if "SystemdCgroup = true" in original:
            assert runtimes["runc"]["options"]["SystemdCgroup"] is True, binary


# --------------------------------------------------------------------------
# k3s
# --------------------------------------------------------------------------

def k3s_texts(generated=None, **extra):
    texts = dict((path, None) for path in rc.k3s_paths(K3S))
    texts[K3S] = fixture(generated) if generated else None
    texts.update(extra)
    return texts


@pytest.mark.parametrize("generated,detected", [
    ("k3s-v2-generated-config.toml", True),
    ("k3s-v3-generated-config.toml", True),
    ("k3s-v3-generated-config-imports.toml", True),
    (None, None),
])
def test_k3s_without_extras_writes_nothing(generated, detected):
    plan = rc.plan_k3s(K3S, k3s_texts(generated), opts())
    assert not plan.changed
    assert plan.summary["mode"] == "none"
    assert plan.summary["runtime_detected"] is detected
    assert plan.warnings == []


def test_k3s_warns_when_it_did_not_detect_the_runtime():
    generated = fixture("k3s-v2-generated-config.toml").replace('runtimes."nvidia', 'runtimes."other')
    plan = rc.plan_k3s(K3S, k3s_texts(**{K3S: generated}), opts())
    assert plan.summary["runtime_detected"] is False
    assert "restart k3s" in plan.warnings[0]


def test_k3s_dropin_when_the_generated_config_imports_the_directory():
    texts = k3s_texts("k3s-v3-generated-config-imports.toml")
    plan = rc.plan_k3s(K3S, texts, opts(set_as_default=True))
    assert plan.summary["mode"] == "dropin"
    assert [(c.path, c.action) for c in plan.changes] == [(K3S_DROPIN3, "create")]
    data = tomllib.loads(plan.change(K3S_DROPIN3).after)
    ctd = data["plugins"][V3]["containerd"]
    assert data["version"] == 3
    assert ctd["default_runtime_name"] == "nvidia"
    assert ctd["runtimes"]["nvidia"] == {"runtime_type": "io.containerd.runc.v2",
                                         "options": {"SystemdCgroup": True, "BinaryName": NV}}
    assert "enable_cdi" not in data["plugins"][V3]
    after = apply(plan, texts)
    assert not rc.plan_k3s(K3S, after, opts(set_as_default=True)).changed
    # no longer wanted: our drop-in goes
    assert apply(rc.plan_k3s(K3S, after, opts()), after) == apply(rc.Plan("k3s"), texts)
    assert apply(rc.plan_k3s(K3S, after, opts(state="absent")), after) == apply(rc.Plan("k3s"), texts)


@pytest.mark.parametrize("generated", ["k3s-v3-generated-config.toml", "k3s-v3-generated-config-imports.toml"])
def test_k3s_cdi_is_already_on_with_containerd_2(generated):
    plan = rc.plan_k3s(K3S, k3s_texts(generated), opts(cdi=True))
    assert not plan.changed
    assert plan.summary["needs"] == []


def test_k3s_default_runtime_already_set_by_k3s_option():
    generated = fixture("k3s-v3-generated-config.toml").replace(
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
        "[plugins.'io.containerd.cri.v1.runtime'.containerd]\n  default_runtime_name = \"nvidia\"\n\n"
        "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]")
    plan = rc.plan_k3s(K3S, k3s_texts(**{K3S: generated}), opts(set_as_default=True))
    assert not plan.changed and plan.summary["needs"] == []


def test_k3s_template_appends_only_new_tables_and_is_stable_after_k3s_renders_it():
    texts = k3s_texts("k3s-v3-generated-config.toml")
    plan = rc.plan_k3s(K3S, texts, opts(set_as_default=True))
    assert plan.summary["mode"] == "template"
    text = plan.change(K3S_TMPL3).after
    assert text.startswith('{{ template "base" . }}\n')
    tail = text[len('{{ template "base" . }}'):]
    assert tomllib.loads(tail) == {"plugins": {V3: {"containerd": {"default_runtime_name": "nvidia"}}}}
    after = apply(plan, texts)
    # k3s restarts and renders base + our tail; a rerun must not change anything
    after[K3S] = texts[K3S] + tail
    rendered = tomllib.loads(after[K3S])
    assert rendered["plugins"][V3]["containerd"]["default_runtime_name"] == "nvidia"
    assert rendered["plugins"][V3]["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert not rc.plan_k3s(K3S, after, opts(set_as_default=True)).changed
    gone = rc.plan_k3s(K3S, after, opts(state="absent"))
    assert [(c.path, c.action) for c in gone.changes] == [(K3S_TMPL3, "delete")]


@pytest.mark.parametrize("kwargs,table", [
    (dict(set_as_default=True), "'io.containerd.grpc.v1.cri', 'containerd'"),
    (dict(cdi=True), "'io.containerd.grpc.v1.cri')"),
])
def test_k3s_template_that_would_declare_a_base_table_twice_is_refused(kwargs, table):
    with pytest.raises(RuntimeConfigError) as err:
        rc.plan_k3s(K3S, k3s_texts("k3s-v2-generated-config.toml"), opts(**kwargs))
    message = str(err.value)
    assert "declared twice stops containerd" in message and table in message
    if "set_as_default" in kwargs:
        assert "default-runtime: nvidia" in message


def test_k3s_v3_cdi_off_in_base_cannot_be_appended():
    generated = fixture("k3s-v3-generated-config.toml").replace(
        "enable_unprivileged_icmp = true", "enable_unprivileged_icmp = true\n  enable_cdi = false")
    with pytest.raises(RuntimeConfigError, match="cannot add cdi"):
        rc.plan_k3s(K3S, k3s_texts(**{K3S: generated}), opts(cdi=True))


def test_k3s_without_generated_config_needs_the_version_and_then_refuses_to_guess():
    with pytest.raises(RuntimeConfigError, match="k3s_template_version"):
        rc.plan_k3s(K3S, k3s_texts(), opts(set_as_default=True))
    with pytest.raises(RuntimeConfigError, match="cannot check"):
        rc.plan_k3s(K3S, k3s_texts(), opts(set_as_default=True, k3s_template_version=3))


def test_k3s_user_template_is_never_overwritten():
    texts = k3s_texts("k3s-v3-generated-config.toml", **{K3S_TMPL3: '{{ template "base" . }}\n# mine\n'})
    with pytest.raises(RuntimeConfigError, match="not written by this module"):
        rc.plan_k3s(K3S, texts, opts(set_as_default=True))
    # and left alone when nothing is wanted
    assert not rc.plan_k3s(K3S, texts, opts(state="absent")).changed


def test_k3s_v2_template_ignored_when_a_user_v3_template_exists():
    texts = k3s_texts("k3s-v2-generated-config.toml", **{K3S_TMPL3: '{{ template "base" . }}\n'})
    with pytest.raises(RuntimeConfigError, match="prefers it"):
        rc.plan_k3s(K3S, texts, opts(set_as_default=True, k3s_template_version=2))


# --------------------------------------------------------------------------
# MicroK8s
# --------------------------------------------------------------------------

def test_microk8s_template_edit_keeps_every_other_line():
    original = fixture("microk8s-containerd-template.toml")
    plan = rc.plan_microk8s(MK8S, original, opts(set_as_default=True, cdi=True))
    new = plan.change(MK8S).after
    removed, added = changed_lines(original, new)
    assert removed == ['    default_runtime_name = "${RUNTIME}"']
    assert added[0].startswith('  enable_cdi = true  # ')
    assert added[1].startswith('    default_runtime_name = "nvidia"  # ') and added[1].endswith('was "${RUNTIME}"')
    data = tomllib.loads(new)
    cri = data["plugins"][V2]
    assert cri["enable_cdi"] is True
    assert cri["containerd"]["default_runtime_name"] == "nvidia"
    assert cri["containerd"]["runtimes"]["nvidia"] == {"runtime_type": "io.containerd.runc.v2",
                                                       "options": {"BinaryName": NV}}
    # MicroK8s's own runtimes and placeholders are untouched
    assert cri["containerd"]["runtimes"]["nvidia-container-runtime"]["options"]["BinaryName"] == \
        "nvidia-container-runtime"
    assert cri["containerd"]["snapshotter"] == "${SNAPSHOTTER}"
    assert cri["cni"]["bin_dir"] == "${SNAP_DATA}/opt/cni/bin"

    assert not rc.plan_microk8s(MK8S, new, opts(set_as_default=True, cdi=True)).changed
    assert rc.plan_microk8s(MK8S, new, opts(state="absent")).change(MK8S).after == original
    # dropping set_as_default later puts ${RUNTIME} back
    later = rc.plan_microk8s(MK8S, new, opts(cdi=True)).change(MK8S).after
    assert tomllib.loads(later)["plugins"][V2]["containerd"]["default_runtime_name"] == "${RUNTIME}"
    assert rc.plan_microk8s(MK8S, later, opts(state="absent")).change(MK8S).after == original


def test_microk8s_existing_runtime_table_is_edited_in_place():
    original = fixture("microk8s-containerd-template.toml") + (
        '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n'
        '  runtime_type = "io.containerd.runc.v1"\n'
        '  privileged_without_host_devices = false\n')
    new = rc.plan_microk8s(MK8S, original, opts()).change(MK8S).after
    table = tomllib.loads(new)["plugins"][V2]["containerd"]["runtimes"]["nvidia"]
    assert table == {"runtime_type": "io.containerd.runc.v2", "privileged_without_host_devices": False,
                     "options": {"BinaryName": NV}}
    assert not rc.plan_microk8s(MK8S, new, opts()).changed
    assert rc.plan_microk8s(MK8S, new, opts(state="absent")).change(MK8S).after == original


def test_microk8s_refuses_go_template_actions_and_v1_and_missing():
    with pytest.raises(RuntimeConfigError, match="Go template"):
        rc.plan_microk8s(MK8S, 'version = 2\nx = "{{ .Y }}"\n', opts())
    with pytest.raises(RuntimeConfigError, match="version 1"):
        rc.plan_microk8s(MK8S, '[plugins.cri]\n  stream_server_port = "0"\n', opts())
    with pytest.raises(RuntimeConfigError, match="MicroK8s installed"):
        rc.plan_microk8s(MK8S, None, opts())
    with pytest.raises(RuntimeConfigError, match="not valid TOML"):
        rc.plan_microk8s(MK8S, fixture("broken.toml"), opts())


# --------------------------------------------------------------------------
# Docker
# --------------------------------------------------------------------------

def test_docker_merge_keeps_other_keys_and_their_order():
    original = fixture("docker-daemon.json")
    plan = rc.plan_docker(DOCKER, original, opts(set_as_default=True, cdi=True))
    new = json.loads(plan.change(DOCKER).after)
    old = json.loads(original)
    assert list(new)[:len(old)] == list(old)
    for key in ("log-driver", "log-opts", "exec-opts", "registry-mirrors", "storage-driver"):
        assert new[key] == old[key]
    assert new["runtimes"] == {"runsc": {"path": "/usr/local/bin/runsc"},
                               "nvidia": {"path": NV, "args": []}}
    assert new["default-runtime"] == "nvidia"
    assert new["features"] == {"cdi": True}
    assert plan.change(DOCKER).after.startswith('{\n    "log-driver"')

    after = plan.change(DOCKER).after
    assert not rc.plan_docker(DOCKER, after, opts(set_as_default=True, cdi=True)).changed
    back = json.loads(rc.plan_docker(DOCKER, after, opts(state="absent")).change(DOCKER).after)
    expected = copy.deepcopy(old)
    expected["features"] = {"cdi": True}  # not ours to remove: it may have been set before
    assert back == expected


def test_docker_keeps_the_file_indent_and_existing_runtime_args():
    original = '{\n  "runtimes": {\n    "nvidia": {\n      "path": "/old", "args": ["--debug"]\n    }\n  }\n}\n'
    after = rc.plan_docker(DOCKER, original, opts()).change(DOCKER).after
    assert after.startswith('{\n  "runtimes"')
    assert json.loads(after) == {"runtimes": {"nvidia": {"path": NV, "args": ["--debug"]}}}


@pytest.mark.parametrize("original, key", [
    ('{"runtimes": ["runc"]}', "runtimes"),
    ('{"features": "cdi"}', "features"),
], ids=["runtimes-a-list", "features-a-string"])
def test_docker_refuses_a_daemon_json_whose_tables_are_not_objects(original, key):
    with pytest.raises(RuntimeConfigError, match="%s: %s must be an object" % (DOCKER, key)):
        rc.plan_docker(DOCKER, original, opts(cdi=True))


def test_docker_missing_file_created_then_removed():
    plan = rc.plan_docker(DOCKER, None, opts())
    assert plan.change(DOCKER).action == "create"
    text = plan.change(DOCKER).after
    assert json.loads(text) == {"runtimes": {"nvidia": {"path": NV, "args": []}}}
    gone = rc.plan_docker(DOCKER, text, opts(state="absent"))
    assert gone.change(DOCKER).action == "delete"
    assert not rc.plan_docker(DOCKER, None, opts(state="absent")).changed


def test_docker_broken_json_names_the_file():
    with pytest.raises(RuntimeConfigError) as err:
        rc.plan_docker(DOCKER, fixture("broken-daemon.json"), opts())
    assert DOCKER in str(err.value) and "line 5" in str(err.value)
    with pytest.raises(RuntimeConfigError, match="JSON object"):
        rc.plan_docker(DOCKER, "[]", opts())


def test_options_are_validated():
    with pytest.raises(RuntimeConfigError):
        rc.RuntimeOptions(state="gone")
    with pytest.raises(RuntimeConfigError):
        rc.RuntimeOptions(k3s_template_version=4)


def test_fixture_index_lists_every_fixture():
    with open(os.path.join(FIXTURES, "README.md"), encoding="utf-8") as handle:
        index = handle.read()
    for path in globmod.glob(os.path.join(FIXTURES, "*")):
        name = os.path.basename(path)
        if name != "README.md":
            assert "`%s`" % name in index, name


def test_microk8s_restores_a_value_exactly_as_it_was_written():
    original = ("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  enable_cdi = false   # off for now\n"
                "  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n    default_runtime_name = 'runc'\n"
                "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
                "      runtime_type = \"io.containerd.runc.v2\"\n")
    new = rc.plan_microk8s(MK8S, original, opts(set_as_default=True, cdi=True)).change(MK8S).after
    cri = tomllib.loads(new)["plugins"][V2]
    assert cri["enable_cdi"] is True and cri["containerd"]["default_runtime_name"] == "nvidia"
    assert rc.plan_microk8s(MK8S, new, opts(state="absent")).change(MK8S).after == original


@pytest.mark.parametrize("current,expected", [
    (None, ["/etc/cdi", "/var/run/cdi"]),
    (["/etc/cdi", "/var/run/cdi"], ["/etc/cdi", "/var/run/cdi"]),
    (["/opt/cdi"], ["/opt/cdi", "/etc/cdi", "/var/run/cdi"]),
    (["/var/run/cdi"], ["/var/run/cdi", "/etc/cdi"]),
], ids=["unset", "defaults", "user-dir-kept", "one-default"])
def test_cdi_spec_dirs_keep_the_users_and_add_the_defaults(current, expected):
    assert rc.cdi_spec_dirs(current) == expected


def test_containerd_cdi_dropin_keeps_a_narrowed_spec_dir_and_adds_var_run_cdi():
    main = 'version = 3\n[plugins."io.containerd.cri.v1.runtime"]\n  cdi_spec_dirs = ["/opt/cdi"]\n'
    plan = rc.plan_containerd(MAIN, main, None, opts(cdi=True))
    data = tomllib.loads(plan.change(DROPIN).after)
    cri = data["plugins"]["io.containerd.cri.v1.runtime"]
    assert cri["enable_cdi"] is True
    assert cri["cdi_spec_dirs"] == ["/opt/cdi", "/etc/cdi", "/var/run/cdi"]
