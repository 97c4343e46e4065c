# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST ONLY: build a LOCAL SIGNED apt repository of STAND-IN NVIDIA packages.

NVIDIA's repositories cannot be reached from the lab, so this stands in for them at
their boundary: the same layout, package names and signing scheme, served to lab nodes
as a file: URL. The gpu_runtime role's own repository tasks (key, deb822 source with
signed-by, pins, cache refresh, install) then run for real against it.

Layout under OUT (mirrors NVIDIA's flat repositories, suite "/"):

  cuda/<distro>/x86_64/           like developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64
      3bf863cc.pub                the test key (ASCII armoured), named like NVIDIA's
      Packages Release InRelease Release.gpg *.deb
  libnvidia-container/gpgkey      the same test key
  libnvidia-container/stable/deb/amd64/   like nvidia.github.io/libnvidia-container/stable/deb/amd64

Stand-in packages (dpkg-deb; every file says STAND-IN):

* nvidia-open, cuda-drivers (the open / proprietary flavours, conflicting): the
  capture-replaying nvidia-smi (tests/fake/) with the real H200 capture
  (tests/fixtures/real-gpu/h200-580.159.04), version 580.159.04. Their postinst plays
  the KERNEL: loading the module binds it to the GPU, which sysfs shows as the device's
  `driver` symlink. It creates that link for every NVIDIA display device under
  /sys/bus/pci/devices where that directory is writable (only the lab's fake PCI bus is;
  a real sysfs refuses). A lab node with /etc/fake-gpu/kernel-refuses-module gets the
  refusal instead: no link, nvidia-smi in "no driver" mode, and the refusal's words in
  /etc/fake-gpu/modprobe.txt for the stand-in modprobe of that node.
* linux-headers-<kernel>: empty (the lab node runs the host's kernel; no headers exist
  for it in any repository it can reach).
* nvidia-container-toolkit, nvidia-container-toolkit-base, libnvidia-container-tools,
  libnvidia-container1 at the pinned version and one newer (so the pin matters):
  nvidia-container-runtime (hands every call to runc), nvidia-ctk (--version, and
  `cdi generate` / `cdi list` with a spec in the real layout).

The signing key is generated at build time in a temporary GNUPGHOME (never reused).
Needs gpg and dpkg-deb on the machine that builds (the controller).

usage: local_apt_repo.py OUT --kernel KERNEL [--distro debian12] [--toolkit VERSION] [--extra-toolkit VERSION]...
(VERSION defaults to the toolkit pin of meta/version_matrix.yml; --extra-toolkit adds more releases,
e.g. a known-bad one for molecule doctor_v2_wsl_k3s_windows)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURE = os.path.join(ROOT, "tests", "fixtures", "real-gpu", "h200-580.159.04")
DRIVER_VERSION = "580.159.04"
MATRIX = os.path.join(ROOT, "meta", "version_matrix.yml")


def pinned_toolkit():
    """The toolkit pin of the collection's version matrix (read without PyYAML: one line)."""
    with open(MATRIX) as handle:
        text = handle.read()
    block = text.split("\n  nvidia_container_toolkit:\n", 1)[1]
    return re.search(r"^    version: (\S+)$", block, re.MULTILINE).group(1)


def newer(version):
    """A stand-in release one minor version above ``version`` (so that the pin matters)."""
    parts = [int(part) for part in version.split(".")]
    return "%d.%d.0" % (parts[0], parts[1] + 1)


DRIVER_POSTINST = r"""#!/bin/sh
# STAND-IN postinst: plays the kernel loading the nvidia module (see local_apt_repo.py).
set -e
[ "$1" = configure ] || exit 0
if [ -e /etc/fake-gpu/kernel-refuses-module ]; then
    sed -i 's/"mode": "ok"/"mode": "no-driver"/' /etc/fake-nvidia-smi.json
    exit 0
fi
for dev in /sys/bus/pci/devices/*; do
    [ "$(cat "$dev/vendor" 2>/dev/null)" = 0x10de ] || continue
    case "$(cat "$dev/class" 2>/dev/null)" in 0x03*) ;; *) continue ;; esac
    [ -e "$dev/driver" ] || [ -L "$dev/driver" ] || \
        ln -s ../../../bus/pci/drivers/nvidia "$dev/driver" 2>/dev/null || true
done
"""

DRIVER_POSTRM = r"""#!/bin/sh
# STAND-IN postrm: the module is unloaded (the GPU loses its driver).
set -e
[ "$1" = remove ] || [ "$1" = purge ] || exit 0
for dev in /sys/bus/pci/devices/*; do
    [ "$(readlink "$dev/driver" 2>/dev/null | sed 's#.*/##')" = nvidia ] && rm -f "$dev/driver" || true
done
"""

RUNTIME = """#!/bin/sh
# STAND-IN nvidia-container-runtime %s from homelab.gpu_node's local test repository
# (NVIDIA's repositories are unreachable in the lab). Hands every call to runc.
exec runc "$@"
"""

CTK = """#!/bin/sh
# STAND-IN nvidia-ctk from homelab.gpu_node's local test repository (NVIDIA's is unreachable).
# Implements --version, `cdi generate [--output=FILE]` and `cdi list`. The real tool asks NVML
# for the GPUs; the stand-in writes a CDI spec in the real layout (cdiVersion, kind
# nvidia.com/gpu, devices "0" and "all") for the one GPU of the lab's H200 capture.
version=%s
spec() {
cat <<SPEC
---
# STAND-IN CDI spec from the nvidia-ctk stand-in $version (homelab.gpu_node lab test)
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
  - name: "0"
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
  - name: all
    containerEdits:
      deviceNodes:
        - path: /dev/nvidia0
containerEdits:
  env:
    - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
    - path: /dev/nvidiactl
SPEC
}
case "$1 $2" in
  "--version "*|"-v "*) echo "NVIDIA Container Toolkit CLI version $version"; echo "commit: stand-in" ;;
  "cdi generate")
    out=
    for arg in "$@"; do case "$arg" in --output=*) out="${arg#--output=}" ;; esac; done
    echo "level=info msg=\"STAND-IN nvidia-ctk: generating a CDI spec\"" >&2
    if [ -n "$out" ]; then mkdir -p "$(dirname "$out")"; spec > "$out"; else spec; fi ;;
  "cdi list")
    for f in /etc/cdi/*.yaml /var/run/cdi/*.yaml; do
      [ -f "$f" ] && grep -q '^kind: nvidia.com/gpu' "$f" && { echo nvidia.com/gpu=0; echo nvidia.com/gpu=all; }
    done | sort -u ;;
  *) echo "nvidia-ctk stand-in: only --version, cdi generate and cdi list are implemented" >&2; exit 2 ;;
esac
"""


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def write(path, content, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
    os.chmod(path, mode)


def build_deb(outdir, name, version, description, files=None, scripts=None, depends=None, conflicts=None):
    """files: {path on the node: (content, mode)}; scripts: {postinst: text}."""
    work = tempfile.mkdtemp()
    try:
        control = ["Package: %s" % name, "Version: %s" % version, "Architecture: amd64",
                   "Maintainer: homelab.gpu_node tests <tests@invalid>", "Priority: optional",
                   "Section: misc"]
        if depends:
            control.append("Depends: %s" % ", ".join(depends))
        if conflicts:
            control.append("Conflicts: %s" % ", ".join(conflicts))
        control.append("Description: STAND-IN %s (homelab.gpu_node lab test repository)" % description)
        write(os.path.join(work, "DEBIAN", "control"), "\n".join(control) + "\n")
        for script, text in (scripts or {}).items():
            write(os.path.join(work, "DEBIAN", script), text, 0o755)
        for path, (content, mode) in (files or {}).items():
            write(os.path.join(work, path.lstrip("/")), content, mode)
        deb = os.path.join(outdir, "%s_%s_amd64.deb" % (name, version))
        run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", work, deb])
        return deb, control
    finally:
        shutil.rmtree(work)


def index(repo_dir, debs, gnupghome, key_id):
    """Packages, Packages.gz, Release, InRelease, Release.gpg of a flat repository."""
    stanzas = []
    for deb, control in debs:
        with open(deb, "rb") as handle:
            data = handle.read()
        stanza = [line for line in control if not line.startswith("Description:")]
        stanza += ["Filename: ./%s" % os.path.basename(deb), "Size: %d" % len(data),
                   "MD5sum: %s" % hashlib.md5(data).hexdigest(),
                   "SHA256: %s" % hashlib.sha256(data).hexdigest(),
                   [line for line in control if line.startswith("Description:")][0]]
        stanzas.append("\n".join(stanza))
    packages = ("\n\n".join(stanzas) + "\n").encode()
    write(os.path.join(repo_dir, "Packages"), packages)
    write(os.path.join(repo_dir, "Packages.gz"), gzip.compress(packages, mtime=0))
    sums = []
    for name in ("Packages", "Packages.gz"):
        with open(os.path.join(repo_dir, name), "rb") as handle:
            data = handle.read()
        sums.append((name, len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()))
    release = ["Origin: homelab.gpu_node-test", "Label: STAND-IN NVIDIA repository (lab test)",
               "Architectures: amd64", "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()),
               "MD5Sum:"] + [" %s %d %s" % (md5, size, name) for name, size, md5, dummy in sums] + \
              ["SHA256:"] + [" %s %d %s" % (sha, size, name) for name, size, dummy, sha in sums]
    write(os.path.join(repo_dir, "Release"), "\n".join(release) + "\n")
    gpg = ["gpg", "--homedir", gnupghome, "--batch", "--yes", "--local-user", key_id]
    run(gpg + ["--clearsign", "-o", os.path.join(repo_dir, "InRelease"), os.path.join(repo_dir, "Release")])
    run(gpg + ["--armor", "--detach-sign", "-o", os.path.join(repo_dir, "Release.gpg"),
               os.path.join(repo_dir, "Release")])


def make_key(gnupghome):
    run(["gpg", "--homedir", gnupghome, "--batch", "--passphrase", "", "--quick-gen-key",
         "homelab.gpu_node lab test repository (STAND-IN, made at test time)", "ed25519", "sign", "1d"])
    out = run(["gpg", "--homedir", gnupghome, "--batch", "--with-colons", "--list-keys"]).stdout.decode()
    fpr = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")][0]
    armored = run(["gpg", "--homedir", gnupghome, "--batch", "--armor", "--export", fpr]).stdout
    return fpr, armored


def read(path, mode="r"):
    with open(path, mode) as handle:
        return handle.read()


def driver_files():
    conf = ('{"xml": "/usr/share/fake-nvidia-smi/capture.xml", "csv": "/usr/share/fake-nvidia-smi/query.csv", '
            '"mode": "ok", "calls": "/var/log/fake-nvidia-smi.calls"}\n')
    return {
        "/usr/bin/nvidia-smi": (read(os.path.join(HERE, "nvidia-smi")), 0o755),
        "/usr/bin/fake_nvidia_smi.py": (read(os.path.join(HERE, "fake_nvidia_smi.py")), 0o644),
        "/usr/share/fake-nvidia-smi/capture.xml": (read(os.path.join(CAPTURE, "nvidia-smi-q-x.xml"), "rb"), 0o644),
        "/usr/share/fake-nvidia-smi/query.csv": (
            "pci.bus_id, compute_cap\n" + read(os.path.join(CAPTURE, "nvidia-smi-compute-cap.csv")), 0o644),
        "/etc/fake-nvidia-smi.json": (conf, 0o644),
    }


def build(out, kernel, distro, toolkit, extra_toolkits=()):
    if os.path.exists(out):
        shutil.rmtree(out)
    gnupghome = tempfile.mkdtemp()
    try:
        fpr, armored = make_key(gnupghome)
        cuda = os.path.join(out, "cuda", distro, "x86_64")
        os.makedirs(cuda)
        write(os.path.join(cuda, "3bf863cc.pub"), armored)
        files = driver_files()
        scripts = {"postinst": DRIVER_POSTINST, "postrm": DRIVER_POSTRM}
        debs = [
            build_deb(cuda, "nvidia-open", DRIVER_VERSION + "-1", "NVIDIA driver, open kernel modules",
                      files, scripts, conflicts=["cuda-drivers"]),
            build_deb(cuda, "cuda-drivers", DRIVER_VERSION + "-1", "NVIDIA driver, proprietary kernel modules",
                      files, scripts, conflicts=["nvidia-open"]),
            build_deb(cuda, "linux-headers-%s" % kernel, "1.0", "kernel headers for the lab's running kernel"),
        ]
        index(cuda, debs, gnupghome, fpr)

        top = os.path.join(out, "libnvidia-container")
        write(os.path.join(top, "gpgkey"), armored)
        tk = os.path.join(top, "stable", "deb", "amd64")
        os.makedirs(tk)
        debs = []
        for version in [toolkit, newer(toolkit)] + [v for v in extra_toolkits if v not in (toolkit, newer(toolkit))]:
            full = version + "-1"
            debs += [
                build_deb(tk, "libnvidia-container1", full, "libnvidia-container"),
                build_deb(tk, "libnvidia-container-tools", full, "nvidia-container-cli",
                          depends=["libnvidia-container1 (= %s)" % full]),
                build_deb(tk, "nvidia-container-toolkit-base", full, "nvidia-container-runtime and nvidia-ctk",
                          {"/usr/bin/nvidia-container-runtime": (RUNTIME % version, 0o755),
                           "/usr/bin/nvidia-ctk": (CTK % version, 0o755)}),
                build_deb(tk, "nvidia-container-toolkit", full, "NVIDIA container toolkit",
                          depends=["nvidia-container-toolkit-base (= %s)" % full,
                                   "libnvidia-container-tools (= %s)" % full]),
            ]
        index(tk, debs, gnupghome, fpr)
        return fpr
    finally:
        shutil.rmtree(gnupghome, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--distro", default="debian12")
    parser.add_argument("--toolkit", default=None, help="default: the pin of meta/version_matrix.yml")
    parser.add_argument("--extra-toolkit", action="append", default=[], metavar="VERSION",
                        help="also a toolkit release at VERSION (e.g. a known-bad one for the doctor's lab test)")
    args = parser.parse_args()
    fpr = build(args.out, args.kernel, args.distro, args.toolkit or pinned_toolkit(), args.extra_toolkit)
    print("built %s (signed by %s)" % (args.out, fpr))


if __name__ == "__main__":
    main()
