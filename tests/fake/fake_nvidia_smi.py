# (Run through the tests/fake/nvidia-smi shell wrapper.)
# FAKE nvidia-smi for homelab.gpu_node lab nodes. It is NOT NVIDIA's tool:
# it replays a real capture (shared/fixtures/nvidia-smi) so roles and modules
# can be tested on machines without a GPU. Configured by /etc/fake-nvidia-smi.json:
#   {"xml": "/usr/local/share/fake-nvidia-smi/capture.xml",   # replayed for -q -x
#    "csv": "/usr/local/share/fake-nvidia-smi/query.txt",     # optional, see below
#    "mode": "ok" | "no-driver" | "mismatch",
#    "calls": "/var/log/fake-nvidia-smi.calls"}               # one line per call
# "csv" may be a plain --query-gpu CSV capture (header with units) or a
# multi-section capture whose "# $ nvidia-smi --query-gpu=..." section is used;
# the fake answers --query-gpu=<fields> from it, honouring noheader/nounits.
# Without a CSV capture, a --query-gpu asking for compute_cap fails the way
# drivers before 510 do (exit 2, 'Field "compute_cap" is not a valid field to
# query.'), because we have no real data to answer with.
# -L / --list-gpus prints "GPU <i>: <product_name> (UUID: <uuid>)" from the XML.
# Failure modes print nvidia-smi's real messages with its real exit codes:
#   no-driver: exit 9, mismatch: exit 18.
import csv
import io
import json
import os
import re
import sys

CONF = os.environ.get("FAKE_NVIDIA_SMI_CONF", "/etc/fake-nvidia-smi.json")

NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running.\n"
)
MISMATCH = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: %s\n"


def load_conf():
    with open(CONF) as f:
        return json.load(f)


def record(conf, argv):
    path = conf.get("calls")
    if path:
        with open(path, "a") as f:
            f.write(" ".join(argv) + "\n")


def csv_section(text):
    """Return the CSV lines of a --query-gpu capture (plain or multi-section)."""
    if "# $ nvidia-smi" not in text:
        return text
    lines = text.splitlines()
    out, inside = [], False
    for line in lines:
        if line.startswith("# $ nvidia-smi"):
            if inside and out:
                break
            inside = "--query-gpu=" in line and "--format=csv" in line
            continue
        if inside:
            if line.startswith("#"):
                continue
            if not line.strip():
                if out:
                    break
                continue
            out.append(line)
    return "\n".join(out) + "\n"


def strip_unit(name):
    return re.sub(r"\s*\[[^\]]*\]$", "", name.strip())


def query_gpu(conf, fields, fmt):
    path = conf.get("csv")
    if not path or not os.path.exists(path):
        for field in fields:
            if field == "compute_cap":
                sys.stdout.write('Field "compute_cap" is not a valid field to query.\n\n')
                return 2
        sys.stderr.write("fake nvidia-smi: no CSV capture configured for --query-gpu\n")
        return 2
    with open(path) as f:
        rows = list(csv.reader(io.StringIO(csv_section(f.read())), skipinitialspace=True))
    header = [strip_unit(h) for h in rows[0]]
    for field in fields:
        if field not in header:
            sys.stdout.write('Field "%s" is not a valid field to query.\n\n' % field)
            return 2
    opts = fmt.split(",")
    if "noheader" not in opts:
        sys.stdout.write(", ".join(rows[0][header.index(f)].strip() for f in fields) + "\n")
    for row in rows[1:]:
        if not row:
            continue
        cells = []
        for field in fields:
            cell = row[header.index(field)].strip()
            if "nounits" in opts:
                cell = re.sub(r"^(-?[0-9.]+) (MiB|W|%|MHz|C)$", r"\1", cell)
            cells.append(cell)
        sys.stdout.write(", ".join(cells) + "\n")
    return 0


def list_gpus(conf):
    """nvidia-smi -L from the XML capture, in nvidia-smi's format (checked against the H200 capture)."""
    import xml.etree.ElementTree as ET
    with open(conf["xml"], "rb") as f:
        text = f.read()
    root = ET.fromstring(text[text.index(b"<nvidia_smi_log"):])
    for index, gpu in enumerate(root.findall("gpu")):
        sys.stdout.write("GPU %d: %s (UUID: %s)\n" % (index, gpu.findtext("product_name"), gpu.findtext("uuid")))
    return 0


def main(argv):
    conf = load_conf()
    record(conf, argv)
    mode = conf.get("mode", "ok")
    if mode == "no-driver":
        sys.stdout.write(NO_DRIVER)
        return 9
    if mode == "mismatch":
        sys.stdout.write(MISMATCH % conf.get("nvml_version", "550.144"))
        return 18
    args = argv[1:]
    if args in (["-q", "-x"], ["-x", "-q"], ["--query", "--xml-format"]):
        with open(conf["xml"]) as f:
            sys.stdout.write(f.read())
        return 0
    if args in (["-L"], ["--list-gpus"]):
        return list_gpus(conf)
    fields = [a.split("=", 1)[1] for a in args if a.startswith("--query-gpu=")]
    fmts = [a.split("=", 1)[1] for a in args if a.startswith("--format=")]
    if fields and fmts:
        return query_gpu(conf, fields[0].split(","), fmts[0])
    sys.stderr.write("fake nvidia-smi: unsupported arguments %r (this is a capture replayer)\n" % args)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
