# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""NVIDIA k8s-device-plugin config file (api/config/v1): validate, normalise, predict.

Pure functions, stdlib only (runs on the controller or on a node, Python 3.8+).

The rules follow NVIDIA/k8s-device-plugin v0.20.0 (commit 1b826acc); every error message
contains upstream's own wording, prefixed with the path of the offending field:

* parse (api/config/v1 replicas.go, resources.go, config.go, duration.go, flags.go):
  object keys are read in sorted order (sigs.k8s.io/yaml hands encoding/json a re-marshalled
  map); custom decoders stop at the first error, Go type errors in plain struct fields are
  reported only if no decoder error follows; then ``unknown version: <v>``. Type errors carry
  Go's context (``Go struct field Sharing.sharing.timeSlicing of type int``, with the embedded
  ``CommandLineFlags`` in paths under ``flags``), as the v0.20.0 image (Go 1.26) prints them;
* flag checks of the plugin's ``validateFlags`` (cmd/nvidia-device-plugin/main.go), in
  upstream's order;
* node checks given the GPUs of a node (internal/rm/device_map.go, internal/plugin/mps.go,
  cmd/mps-control-daemon/mps/device.go).

``DisableResourceNamingInConfig`` is modelled: ``devices`` and custom ``rename`` are
validated, then ignored (every device of a named resource is replicated, only
``renameByDefault`` survives); ``resources.gpus``/``resources.mig`` are ignored too.
"""

from __future__ import annotations

import json
import math
import re
from struct import pack as _pack, unpack as _unpack

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import DevicePluginConfigError

UPSTREAM_VERSION = "v0.20.0"
CONFIG_VERSION = "v1"
RESOURCE_PREFIX = "nvidia.com"
SHARED_SUFFIX = ".shared"
MAX_RESOURCE_NAME_LENGTH = 63
MIG_STRATEGIES = ("none", "single", "mixed")
DEVICE_LIST_STRATEGIES = ("envvar", "volume-mounts", "cdi-annotations", "cdi-cri")
DEVICE_ID_STRATEGIES = ("uuid", "index")
ALLOCATION_POLICIES = ("distributed", "packed")
DEVICE_DISCOVERY_STRATEGIES = ("auto", "nvml", "tegra")
CONFIG_LABEL = "nvidia.com/device-plugin.config"
DEFAULT_CONFIG_KEY = "default"

# k8s.io/apimachinery/pkg/util/validation: IsDNS1123Subdomain
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
DNS1123_SUBDOMAIN_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '" + _DNS1123_SUBDOMAIN_FMT + "')"
)

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1

_HEX = "0123456789abcdefABCDEF"


class _Field(object):
    """One field of a Go struct: JSON name, kind, Go type name (for messages), pointer-ness."""

    def __init__(self, name, kind, gotype, pointer=True, sub=None, embedded=None):
        self.name = name
        self.kind = kind
        self.gotype = gotype
        self.pointer = pointer
        self.sub = sub
        # the sub-struct's fields are promoted from this embedded struct (v1.Flags embeds CommandLineFlags)
        self.embedded = embedded


# Field tables in the order of the Go structs (this is also the order of the YAML we emit).
_PLUGIN_FIELDS = (
    _Field("passDeviceSpecs", "bool", "bool"),
    _Field("deviceListStrategy", "device_list_strategy", "v1.deviceListStrategyFlag"),
    _Field("deviceIDStrategy", "string", "string"),
    _Field("cdiAnnotationPrefix", "string", "string"),
    _Field("nvidiaCTKPath", "string", "string"),
    _Field("containerDriverRoot", "string", "string"),
    _Field("sharedDevicesAllocationPolicy", "string", "string"),
)
_GFD_FIELDS = (
    _Field("oneshot", "bool", "bool"),
    _Field("noTimestamp", "bool", "bool"),
    _Field("sleepInterval", "duration", "v1.Duration"),
    _Field("outputFile", "string", "string"),
    _Field("machineTypeFile", "string", "string"),
)
_FLAGS_FIELDS = (
    _Field("migStrategy", "string", "string"),
    _Field("failOnInitError", "bool", "bool"),
    _Field("mpsRoot", "string", "string"),
    _Field("nvidiaDriverRoot", "string", "string"),
    _Field("nvidiaDevRoot", "string", "string"),
    _Field("gdrcopyEnabled", "bool", "bool"),
    _Field("gdsEnabled", "bool", "bool"),
    _Field("mofedEnabled", "bool", "bool"),
    _Field("useNodeFeatureAPI", "bool", "bool"),
    _Field("deviceDiscoveryStrategy", "string", "string"),
    _Field("plugin", "struct", "v1.PluginCommandLineFlags", sub=("PluginCommandLineFlags", _PLUGIN_FIELDS)),
    _Field("gfd", "struct", "v1.GFDCommandLineFlags", sub=("GFDCommandLineFlags", _GFD_FIELDS)),
)
_RESOURCES_FIELDS = (
    _Field("gpus", "resource_list", "[]v1.Resource", pointer=True),
    _Field("mig", "resource_list", "[]v1.Resource", pointer=True),
)
_SHARING_FIELDS = (
    _Field("timeSlicing", "replicated", "v1.ReplicatedResources", pointer=False),
    _Field("mps", "replicated", "v1.ReplicatedResources", pointer=True),
)
_IMEX_FIELDS = (
    _Field("channelIDs", "int_list", "[]int", pointer=True),
    _Field("required", "bool", "bool", pointer=False),
)
_CONFIG_FIELDS = (
    _Field("version", "string", "string", pointer=False),
    _Field("flags", "struct", "v1.Flags", pointer=False, sub=("Flags", _FLAGS_FIELDS), embedded="CommandLineFlags"),
    _Field("resources", "struct", "v1.Resources", pointer=False, sub=("Resources", _RESOURCES_FIELDS)),
    _Field("sharing", "struct", "v1.Sharing", pointer=False, sub=("Sharing", _SHARING_FIELDS)),
    _Field("imex", "struct", "v1.Imex", pointer=False, sub=("Imex", _IMEX_FIELDS)),
)

# Keys looked up by hand-written (case-sensitive) decoders.
_REPLICATED_KEYS = ("renameByDefault", "failRequestsGreaterThanOne", "resources")
_REPLICATED_RESOURCE_KEYS = ("name", "devices", "replicas", "rename")
_RESOURCE_KEYS = ("pattern", "name")


# --------------------------------------------------------------------------- helpers


def _error(path, msg):
    return DevicePluginConfigError("%s: %s" % (path, msg) if path else msg)


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _whole_float(value):
    """A YAML float that sigs.k8s.io/yaml turns into a JSON integer (2.0 -> 2)."""
    return isinstance(value, float) and math.isfinite(value) and value == int(value)


def _as_json_int(value):
    """Return the integer a JSON number stands for, or None when it has a fraction."""
    if _is_int(value):
        return value
    if _whole_float(value):
        return int(value)
    return None


def _json_kind(value):
    """The JSON kind Go's UnmarshalTypeError names."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


def _go_number_text(value):
    as_int = _as_json_int(value)
    if as_int is not None:
        return str(as_int)
    return repr(value)


def _go_json(value):
    """Compact JSON as Go's encoding/json writes it (map keys sorted)."""
    if isinstance(value, float):
        return _go_number_text(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _go_float32_text(value):
    """strconv.FormatFloat(value, 'g', -1, 32): shortest digits that give back the same float32."""
    if not math.isfinite(value):
        return "+Inf" if value > 0 else ("-Inf" if value < 0 else "NaN")
    if value == 0:
        return "0"
    try:
        as32 = _unpack("<f", _pack("<f", value))[0]
    except OverflowError:  # beyond float32: Go's float32() conversion gives an infinity
        return "+Inf" if value > 0 else "-Inf"
    for digits in range(1, 10):
        text = "%.*e" % (digits - 1, as32)
        if _unpack("<f", _pack("<f", float(text)))[0] == as32:
            break
    mantissa, exp = text.split("e")
    exp = int(exp)
    if exp < -4 or exp >= 6:  # shortest 'g' switches to %e from exponent 6 (Go's eprec)
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return "%se%s%02d" % (mantissa, "-" if exp < 0 else "+", abs(exp))
    ndigits = len(mantissa.replace("-", "").replace(".", "").rstrip("0")) or 1
    return "%.*f" % (max(ndigits - 1 - exp, 0), as32)


def _go_scalar_text(value):
    """sigs.k8s.io/yaml turns a YAML scalar into text when the Go target is a string (yaml.go)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_int(value):
        return str(value)
    if isinstance(value, float):
        return _go_float32_text(value)
    return value


def _go_quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _go_int_list(values):
    return "[" + " ".join(str(v) for v in values) + "]"


def _uniq(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


class _Decoder(object):
    """Carries warnings and the first deferred Go type error of one parse."""

    def __init__(self):
        self.warnings = []
        self.type_error = None

    def defer_type_error(self, path, struct, field_path, kind, gotype):
        # encoding/json keeps decoding after an UnmarshalTypeError in a plain struct field and
        # reports the first one at the end (unless a custom decoder fails first).
        if self.type_error is None:
            self.type_error = _error(
                path, "json: cannot unmarshal %s into Go struct field %s.%s of type %s"
                % (kind, struct, field_path, gotype))

    def warn(self, msg):
        self.warnings.append(msg)


def _value_type_error(path, value, gotype, ctx=None):
    """A Go UnmarshalTypeError. ``ctx`` (``Struct.json.path``) is the plain struct field whose custom
    decoder failed: encoding/json adds it to the error (addErrorContext), so upstream prints
    ``into Go struct field Sharing.sharing.timeSlicing of type int``; without it ``into Go value of type``."""
    kind = _json_kind(value)
    if kind == "number" and gotype in ("int", "uint64"):
        kind = "number " + _go_number_text(value)
    into = ("Go struct field %s" % ctx) if ctx else "Go value"
    return _error(path, "json: cannot unmarshal %s into %s of type %s" % (kind, into, gotype))


# --------------------------------------------------------------------------- names and devices


def _parse_uint(text):
    """strconv.ParseUint(text, 10, 0)."""
    if not text or not all("0" <= c <= "9" for c in text):
        return None
    value = int(text)
    return value if value <= _UINT64_MAX else None


def _is_uuid(text):
    """github.com/google/uuid Parse: 36, 38 ({...}), 45 (urn:uuid:...) or 32 hex characters."""
    if len(text) == 45:
        if text[:9].lower() != "urn:uuid:":
            return False
        text = text[9:]
    elif len(text) == 38:
        if text[0] != "{" or text[-1] != "}":
            return False
        text = text[1:-1]
    elif len(text) == 32:
        return all(c in _HEX for c in text)
    if len(text) != 36:
        return False
    for i, c in enumerate(text):
        if i in (8, 13, 18, 23):
            if c != "-":
                return False
        elif c not in _HEX:
            return False
    return True


def _is_gpu_uuid(text):
    return text.startswith("GPU-") and _is_uuid(text[4:])


def _is_mig_uuid(text):
    if not text.startswith("MIG-"):
        return False
    suffix = text[4:]
    if _is_uuid(suffix):
        return True
    parts = suffix.split("/", 2)
    if len(parts) != 3 or not _is_gpu_uuid(parts[0]):
        return False
    return all(_parse_uint(p) is not None for p in parts[1:])


def _is_mig_index(text):
    parts = text.split(":", 1)
    return len(parts) == 2 and all(_parse_uint(p) is not None for p in parts)


def is_device_ref(text):
    """ReplicatedDeviceRef: GPU index, MIG index (``0:1``), GPU UUID or MIG UUID."""
    return _parse_uint(text) is not None or _is_mig_index(text) or _is_gpu_uuid(text) or _is_mig_uuid(text)


def resource_name(value, path="", ctx=None):
    """NewResourceName (resources.go): add the ``nvidia.com/`` prefix, check length and format."""
    if value is None:
        value = ""  # json null into a string: no change
    if not isinstance(value, str):
        raise _value_type_error(path, value, "string", ctx)
    name = value if value.startswith(RESOURCE_PREFIX + "/") else RESOURCE_PREFIX + "/" + value
    if len(name.encode("utf-8")) > MAX_RESOURCE_NAME_LENGTH:
        raise _error(path, "fully-qualified resource name must be %d characters or less: %s"
                     % (MAX_RESOURCE_NAME_LENGTH, name))
    short = name.split("/", 1)[1]
    if len(short) > 253 or not _DNS1123_SUBDOMAIN_RE.fullmatch(short):
        raise _error(path, "incorrect format for resource name '%s': [%s]" % (name, DNS1123_SUBDOMAIN_ERROR))
    return name


def _devices(value, path):
    """ReplicatedDevices.UnmarshalJSON: 'all', a positive count, or a list of device references."""
    if value is None or isinstance(value, str):
        text = value or ""  # json null into a string leaves it empty
        if text != "all":
            raise _error(path, "devices set as '%s' but the only valid string input is 'all'" % text)
        return "all"
    count = _as_json_int(value)
    if count is not None and _INT64_MIN <= count <= _INT64_MAX:
        if count <= 0:
            raise _error(path, "devices set as '%d' but a count of devices must be > 0" % count)
        return count
    if isinstance(value, (list, tuple)):
        refs = []
        for i, item in enumerate(value):
            item_path = "%s[%d]" % (path, i)
            if item is None:
                refs.append("0")  # json null into a uint64 is a no-op: index 0
                continue
            index = _as_json_int(item)
            if index is not None and 0 <= index <= _UINT64_MAX:
                refs.append(str(index))
                continue
            text = item if isinstance(item, str) else ""
            if isinstance(item, str) and is_device_ref(item):
                refs.append(item)
                continue
            raise _error(item_path, "unsupported type for device in devices list: %s, string" % text)
        return refs
    raise _error(path, "unrecognized type for devices spec: %s" % _go_json(value))


def _go_int(value, path, ctx=None):
    """json.Unmarshal into a Go int (int64)."""
    if value is None:
        return 0  # null: no change to the zero value
    number = _as_json_int(value)
    if number is None or not _INT64_MIN <= number <= _INT64_MAX:
        raise _value_type_error(path, value, "int", ctx)
    return number


def _go_bool(value, path, ctx=None):
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _value_type_error(path, value, "bool", ctx)
    return value


# --------------------------------------------------------------------------- durations


_DURATION_UNITS = {
    "ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 1000000,
    "s": 1000000000, "m": 60 * 1000000000, "h": 3600 * 1000000000,
}


def _parse_go_duration(text):
    """time.ParseDuration; returns an error message or None."""
    orig = text
    invalid = "time: invalid duration " + _go_quote(orig)
    if text and text[0] in "+-":
        text = text[1:]
    if text == "0":
        return None
    if not text:
        return invalid
    total = 0
    while text:
        if not (text[0] == "." or "0" <= text[0] <= "9"):
            return invalid
        i = 0
        while i < len(text) and "0" <= text[i] <= "9":
            i += 1
        pre = i > 0
        whole = int(text[:i]) if pre else 0
        text = text[i:]
        post = False
        frac = ""
        if text and text[0] == ".":
            text = text[1:]
            j = 0
            while j < len(text) and "0" <= text[j] <= "9":
                j += 1
            frac = text[:j]
            post = j > 0
            text = text[j:]
        if not pre and not post:
            return invalid
        j = 0
        while j < len(text) and not (text[j] == "." or "0" <= text[j] <= "9"):
            j += 1
        if j == 0:
            return "time: missing unit in duration " + _go_quote(orig)
        unit = text[:j]
        text = text[j:]
        if unit not in _DURATION_UNITS:
            return "time: unknown unit " + _go_quote(unit) + " in duration " + _go_quote(orig)
        scale = _DURATION_UNITS[unit]
        total += whole * scale
        if frac:
            total += int(frac) * scale // (10 ** len(frac))
        if total > (1 << 63):
            return invalid
    if total > _INT64_MAX and not orig.startswith("-"):
        return invalid
    return None


def _duration(value, path):
    """v1.Duration: a number (nanoseconds), a Go duration string or 'infinite'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value if _is_int(value) else (_as_json_int(value) if _whole_float(value) else value)
    if isinstance(value, str):
        if value == "infinite":
            return value
        msg = _parse_go_duration(value)
        if msg:
            raise _error(path, msg)
        return value
    raise _error(path, "invalid duration")


# --------------------------------------------------------------------------- decoders


def _find_field(fields, key):
    """encoding/json field lookup: exact name first, else case-insensitive."""
    for field in fields:
        if field.name == key:
            return field
    for field in fields:
        if field.name.lower() == key.lower():
            return field
    return None


def _decode_struct(dec, obj, struct, fields, target, path, field_path, texts=True):
    """Decode a plain Go struct (keys match case-insensitively, unknown keys are ignored).

    Keys are read in sorted order: sigs.k8s.io/yaml re-marshals the YAML map, so encoding/json
    sees them sorted (the first error, and the last of two spellings of one key, follow that).
    ``texts``: a YAML number or bool given for a string field becomes its text. sigs.k8s.io/yaml
    does that only for fields it finds by name; under ``flags`` it finds the embedded
    CommandLineFlags instead of the field, so there the number stays a number (a Go type error).
    """
    for key, value in sorted(obj.items(), key=lambda item: str(item[0])):
        key = str(key)
        field = _find_field(fields, key)
        key_path = _join(path, key)
        if field is None:
            dec.warn("%s: unknown key, upstream ignores it (known keys here: %s)"
                     % (key_path, ", ".join(f.name for f in fields)))
            continue
        fpath = _join(field_path, field.name)
        if field.kind == "replicated":
            if value is None and field.pointer:
                target.pop(field.name, None)
                continue
            target[field.name] = _decode_replicated(dec, value, key_path, field.name, "%s.%s" % (struct, fpath))
            continue
        if value is None:
            if field.pointer:
                target.pop(field.name, None)
            continue  # null into a non-pointer value: no effect
        if field.kind == "struct":
            sub_struct, sub_fields = field.sub
            if not isinstance(value, dict):
                dec.defer_type_error(key_path, struct, fpath, _json_kind(value), field.gotype)
                continue
            sub_target = target.get(field.name)
            if not isinstance(sub_target, dict):
                sub_target = {}
            sub_path = _join(fpath, field.embedded) if field.embedded else fpath
            _decode_struct(dec, value, sub_struct, sub_fields, sub_target, key_path, sub_path,
                           texts and not field.embedded)
            target[field.name] = sub_target
        elif field.kind == "string":
            if isinstance(value, (dict, list, tuple)) or (not texts and not isinstance(value, str)):
                dec.defer_type_error(key_path, struct, fpath, _json_kind(value), field.gotype)
                continue
            target[field.name] = _go_scalar_text(value)
        elif field.kind == "bool":
            if not isinstance(value, bool):
                dec.defer_type_error(key_path, struct, fpath, _json_kind(value), field.gotype)
                continue
            target[field.name] = value
        elif field.kind == "device_list_strategy":
            if isinstance(value, str):
                target[field.name] = value
            elif isinstance(value, (list, tuple)) and all(v is None or isinstance(v, str) for v in value):
                target[field.name] = ["" if v is None else v for v in value]  # null into a string: ""
            else:
                raise _error(key_path, "invalid deviceListStrategy: %s" % _go_json(value))
        elif field.kind == "duration":
            target[field.name] = _duration(value, key_path)
        elif field.kind == "int_list":
            if not isinstance(value, (list, tuple)):
                dec.defer_type_error(key_path, struct, fpath, _json_kind(value), field.gotype)
                continue
            ids = []
            for i, item in enumerate(value):
                number = _as_json_int(item)
                if item is None:
                    number = 0
                if number is None or not _INT64_MIN <= number <= _INT64_MAX:
                    kind = _json_kind(item)
                    if kind == "number":
                        kind = "number " + _go_number_text(item)
                    dec.defer_type_error("%s[%d]" % (key_path, i), struct, fpath, kind, "int")
                    number = 0
                ids.append(number)
            target[field.name] = ids
        elif field.kind == "resource_list":
            if not isinstance(value, (list, tuple)):
                dec.defer_type_error(key_path, struct, fpath, _json_kind(value), field.gotype)
                continue
            ctx = "%s.%s" % (struct, fpath)
            target[field.name] = [_decode_resource(item, "%s[%d]" % (key_path, i), ctx) for i, item in enumerate(value)]


def _warn_unknown_keys(dec, obj, known, path):
    for key in obj:
        if key in known:
            continue
        hint = ""
        for k in known:
            if str(key).lower() == k.lower():
                hint = " (keys here are case-sensitive: did you mean '%s'?)" % k
        dec.warn("%s: unknown key, upstream ignores it%s" % (_join(path, str(key)), hint))


def _decode_resource(obj, path, ctx=None):
    """Resource.UnmarshalJSON (resources.go): pattern + name, both required."""
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise _value_type_error(path, obj, "map[string]json.RawMessage", ctx)
    if "pattern" not in obj:
        raise _error(path, "resources must have a 'pattern' field set")
    if "name" not in obj:
        raise _error(path, "resources must have a 'name' field set")
    pattern = obj["pattern"]
    if pattern is None:
        pattern = ""
    if not isinstance(pattern, str):
        raise _value_type_error(_join(path, "pattern"), pattern, "v1.ResourcePattern", ctx)
    return {"pattern": pattern, "name": resource_name(obj["name"], _join(path, "name"), ctx)}


def _decode_replicated(dec, obj, path, block, ctx=None):
    """ReplicatedResources.UnmarshalJSON (replicas.go); ``ctx`` names the field for type errors."""
    if obj is None:
        obj = {}  # json null into a map: nil map, so every key is absent
    if not isinstance(obj, dict):
        raise _value_type_error(path, obj, "map[string]json.RawMessage", ctx)
    out = {}
    out["renameByDefault"] = _go_bool(obj.get("renameByDefault"), _join(path, "renameByDefault"), ctx)
    if "failRequestsGreaterThanOne" in obj and obj["failRequestsGreaterThanOne"] is not None:
        out["failRequestsGreaterThanOne"] = _go_bool(
            obj["failRequestsGreaterThanOne"], _join(path, "failRequestsGreaterThanOne"), ctx)
    if "resources" not in obj or obj["resources"] is None:
        hint = ""
        if "replicas" in obj:
            hint = " (hint: 'replicas' belongs to each entry of %s.resources, not to %s itself)" % (path, block)
        raise _error(path, "no resources specified" + hint)
    resources = obj["resources"]
    if not isinstance(resources, (list, tuple)):
        raise _value_type_error(_join(path, "resources"), resources, "[]v1.ReplicatedResource", ctx)
    entries = [_decode_replicated_resource(dec, item, "%s.resources[%d]" % (path, i), ctx)
               for i, item in enumerate(resources)]
    if not entries:
        raise _error(_join(path, "resources"), "no resources specified")
    if out["renameByDefault"]:
        for entry in entries:
            if "rename" not in entry:
                entry["rename"] = entry["name"] + SHARED_SUFFIX
    _warn_unknown_keys(dec, obj, _REPLICATED_KEYS, path)
    out["resources"] = entries
    return out


def _decode_replicated_resource(dec, obj, path, ctx=None):
    """ReplicatedResource.UnmarshalJSON (replicas.go): name, devices, replicas, rename in that order."""
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise _value_type_error(path, obj, "map[string]json.RawMessage", ctx)
    if "name" not in obj:
        raise _error(path, "no resource name specified")
    name = resource_name(obj["name"], _join(path, "name"), ctx)
    devices = _devices(obj["devices"], _join(path, "devices")) if "devices" in obj else "all"
    if "replicas" not in obj:
        raise _error(path, "no replicas specified")
    replicas = _go_int(obj["replicas"], _join(path, "replicas"), ctx)
    if replicas < 2:
        raise _error(path, "number of replicas must be >= 2")
    entry = {"name": name}
    if "rename" in obj:
        entry["rename"] = resource_name(obj["rename"], _join(path, "rename"), ctx)
    entry["devices"] = devices
    entry["replicas"] = replicas
    _warn_unknown_keys(dec, obj, _REPLICATED_RESOURCE_KEYS, path)
    return entry


def _order(data, fields):
    """Re-order a decoded struct dict in the Go struct's field order."""
    out = {}
    for field in fields:
        if field.name in data:
            value = data[field.name]
            if field.kind == "struct" and isinstance(value, dict):
                value = _order(value, field.sub[1])
            out[field.name] = value
    return out


def parse_config(config):
    """Parse a config as the device plugin does (NewConfig); return ``(normalised, warnings)``.

    The normalised config holds what upstream keeps after parsing, in the Go structs' key
    order: ``version: v1``, fully qualified names, ``devices`` (``all`` when absent),
    ``rename: <name>.shared`` under ``renameByDefault``, MPS ``failRequestsGreaterThanOne``
    defaulted to true; unknown keys are dropped (and warned about).
    Raises DevicePluginConfigError with upstream's message.
    """
    dec = _Decoder()
    if config is None:
        config = {}  # an empty file is a valid, empty v1 config
    if not isinstance(config, dict):
        raise _error("", "json: cannot unmarshal %s into Go value of type v1.Config" % _json_kind(config))
    data = {}
    _decode_struct(dec, config, "Config", _CONFIG_FIELDS, data, "", "")
    if dec.type_error is not None:
        raise dec.type_error
    version = data.get("version", "")
    if version == "":
        version = CONFIG_VERSION
    if version != CONFIG_VERSION:
        raise _error(_key_path(config, "version"), "unknown version: %s" % version)
    data["version"] = version
    sharing = data.get("sharing")
    if isinstance(sharing, dict) and "mps" in sharing and "failRequestsGreaterThanOne" not in sharing["mps"]:
        sharing["mps"]["failRequestsGreaterThanOne"] = True
    for key in ("flags", "resources", "sharing", "imex"):
        if key in data and data[key] == {}:
            del data[key]
    normalised = _order(data, _CONFIG_FIELDS)
    sharing = normalised.get("sharing")
    if sharing:
        for block in ("timeSlicing", "mps"):
            if block in sharing:
                sharing[block] = _order_replicated(sharing[block])
    return normalised, _uniq(dec.warnings)


def _order_replicated(block):
    out = {"renameByDefault": block["renameByDefault"]}
    if "failRequestsGreaterThanOne" in block:
        out["failRequestsGreaterThanOne"] = block["failRequestsGreaterThanOne"]
    out["resources"] = [
        dict((k, entry[k]) for k in ("name", "rename", "devices", "replicas") if k in entry)
        for entry in block["resources"]
    ]
    return out


def _key_path(obj, canonical):
    """The user's spelling of a (case-insensitively matched) top-level key."""
    for key in obj:
        if str(key) == canonical:
            return canonical
    for key in obj:
        if str(key).lower() == canonical.lower():
            return str(key)
    return canonical


# --------------------------------------------------------------------------- shorthand


def time_slicing_to_config(time_slicing):
    """Expand the module's ``time_slicing`` shorthand into a full (unvalidated) config dict.

    ``{replicas, rename_by_default, fail_requests_greater_than_one, resources}``; without
    ``resources`` the single entry ``nvidia.com/gpu`` is used; an entry without ``replicas``
    takes the top-level ``replicas``.
    """
    ts = time_slicing or {}
    block = {}
    if ts.get("rename_by_default") is not None:
        block["renameByDefault"] = ts["rename_by_default"]
    if ts.get("fail_requests_greater_than_one") is not None:
        block["failRequestsGreaterThanOne"] = ts["fail_requests_greater_than_one"]
    default_replicas = ts.get("replicas")
    resources = ts.get("resources")
    if not resources:
        resources = [{"name": RESOURCE_PREFIX + "/gpu"}]
    entries = []
    for item in resources:
        item = item or {}
        entry = {}
        if item.get("name") is not None:
            entry["name"] = item["name"]
        if item.get("devices") is not None:
            entry["devices"] = item["devices"]
        replicas = item.get("replicas")
        if replicas is None:
            replicas = default_replicas
        if replicas is not None:
            entry["replicas"] = replicas
        if item.get("rename") is not None:
            entry["rename"] = item["rename"]
        entries.append(entry)
    block["resources"] = entries
    return {"version": CONFIG_VERSION, "sharing": {"timeSlicing": block}}


# --------------------------------------------------------------------------- YAML


_PLAIN_RE = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_YAML_WORDS = frozenset((
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
))


def _yaml_string(text):
    if _PLAIN_RE.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029, 0xFEFF) or 0xD800 <= code <= 0xDFFF:
            out.append("\\u%04x" % code if code <= 0xFFFF else "\\U%08x" % code)
        elif code in (0xFFFE, 0xFFFF):
            out.append("\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _yaml_scalar(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    return _yaml_string(str(value))


def _is_block(value):
    return isinstance(value, (dict, list, tuple)) and len(value) > 0


def _yaml_lines(value, indent):
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = _yaml_string(str(key))
            if _is_block(item):
                lines.append("%s%s:" % (pad, key_text))
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                lines.append("%s%s: %s" % (pad, key_text, _yaml_scalar(item)))
    else:
        for item in value:
            if _is_block(item):
                sub = _yaml_lines(item, indent + 2)
                lines.append(pad + "- " + sub[0][indent + 2:])
                lines.extend(sub[1:])
            else:
                lines.append("%s- %s" % (pad, _yaml_scalar(item)))
    return lines


def render_yaml(data):
    """Deterministic block YAML for dicts, lists, str, int, float, bool and None.

    Dict order is kept; strings are plain only when YAML 1.1 and 1.2 both read them back as
    the same string, otherwise double-quoted with escapes.
    """
    if not _is_block(data):
        return _yaml_scalar(data) + "\n"
    return "\n".join(_yaml_lines(data, 0)) + "\n"


# --------------------------------------------------------------------------- flags


def effective_mig_strategy(config, mig_strategy=None):
    """CLI/env (here: the module's mig_strategy) > flags.migStrategy in the file > 'none'."""
    if mig_strategy is not None:
        return mig_strategy
    return config.get("flags", {}).get("migStrategy", "none")


def sharing_strategy(config):
    """Sharing.SharingStrategy(): mps, time-slicing or none."""
    sharing = config.get("sharing", {})
    if any(r["replicas"] > 1 for r in sharing.get("mps", {}).get("resources", [])):
        return "mps"
    if any(r["replicas"] > 1 for r in sharing.get("timeSlicing", {}).get("resources", [])):
        return "time-slicing"
    return "none"


def device_list_strategies(config):
    """flags.plugin.deviceListStrategy as a list (upstream accepts a string or a list; default envvar)."""
    strategies = config.get("flags", {}).get("plugin", {}).get("deviceListStrategy", "envvar")
    return [strategies] if isinstance(strategies, str) else list(strategies)


def applied_block(config):
    """Sharing.ReplicatedResources(): ``mps`` whenever present, else ``timeSlicing``."""
    sharing = config.get("sharing", {})
    if "mps" in sharing:
        return "mps", sharing["mps"]
    if "timeSlicing" in sharing:
        return "timeSlicing", sharing["timeSlicing"]
    return None, None


def validate_flags(config, mig_strategy=None):
    """validateFlags (cmd/nvidia-device-plugin/main.go) in upstream's order; returns warnings.

    The NVML check for CDI strategies needs the node and is skipped; a missing MPS root is
    a warning because the Helm chart always sets MPS_ROOT.
    """
    warnings = []
    flags = config.get("flags", {})
    plugin = flags.get("plugin", {})
    strategies = plugin.get("deviceListStrategy", "envvar")
    if isinstance(strategies, str):
        strategies = [strategies]
    for strategy in strategies:
        if strategy not in DEVICE_LIST_STRATEGIES:
            raise _error("flags.plugin.deviceListStrategy",
                         "invalid --device-list-strategy option: invalid strategy: %s" % strategy)
    if any(s.startswith("cdi-") for s in strategies):
        warnings.append("flags.plugin.deviceListStrategy: CDI --device-list-strategy options are only "
                        "supported on NVML-based systems (not checked here)")
    id_strategy = plugin.get("deviceIDStrategy", "uuid")
    if id_strategy not in DEVICE_ID_STRATEGIES:
        raise _error("flags.plugin.deviceIDStrategy", "invalid --device-id-strategy option: %s" % id_strategy)
    policy = plugin.get("sharedDevicesAllocationPolicy")
    if policy is not None and policy not in ALLOCATION_POLICIES:
        raise _error("flags.plugin.sharedDevicesAllocationPolicy",
                     "invalid --shared-devices-allocation-policy option: %s" % policy)
    migs = effective_mig_strategy(config, mig_strategy)
    if sharing_strategy(config) == "mps":
        if migs == "mixed":
            raise _error("sharing.mps", "using --mig-strategy=mixed is not supported with MPS")
        if not flags.get("mpsRoot"):
            warnings.append(
                "sharing.mps: flags.mpsRoot is not set; outside Helm the plugin fails with 'using MPS requires "
                "--mps-root to be specified' unless --mps-root or MPS_ROOT is given (the Helm chart always "
                "exports MPS_ROOT, default /run/nvidia/mps)")
    discovery = flags.get("deviceDiscoveryStrategy", "auto")
    if discovery not in DEVICE_DISCOVERY_STRATEGIES:
        raise _error("flags.deviceDiscoveryStrategy", "invalid --device-discovery-strategy option %s" % discovery)
    if migs not in MIG_STRATEGIES:
        raise _error("flags.migStrategy" if mig_strategy is None else "mig_strategy",
                     "unknown MIG strategy: %s" % migs)
    ids = config.get("imex", {}).get("channelIDs", [])
    if not (len(ids) == 0 or (len(ids) == 1 and ids[0] == 0)):
        raise _error("imex.channelIDs", "invalid IMEX channel IDs: invalid IMEX config: channelIDs must be [] "
                     "or [0]; found %s" % _go_int_list(ids))
    file_migs = flags.get("migStrategy")
    if mig_strategy is not None and file_migs is not None and file_migs != mig_strategy:
        warnings.append("flags.migStrategy: '%s' in the file is overridden by mig_strategy=%s (a CLI flag or "
                        "environment variable, such as the Helm value migStrategy, wins over the file)"
                        % (file_migs, mig_strategy))
    return warnings


def config_warnings(config):
    """Warnings about what upstream silently changes or ignores in a parsed config."""
    warnings = []
    res = config.get("resources", {})
    if res.get("gpus") or res.get("mig"):
        warnings.append("resources: Customizing the 'resources' field is not yet supported in the config. "
                        "Ignoring... (upstream %s discards resources.gpus/resources.mig)" % UPSTREAM_VERSION)
    sharing = config.get("sharing", {})
    for block in ("timeSlicing", "mps"):
        rrs = sharing.get(block)
        if not rrs:
            continue
        path = "sharing.%s" % block
        rbd = rrs["renameByDefault"]
        seen = {}
        for i, entry in enumerate(rrs["resources"]):
            epath = "%s.resources[%d]" % (path, i)
            name = entry["name"]
            if entry["devices"] != "all":
                warnings.append(
                    "%s.devices: Customizing the 'devices' field in %s.resources is not yet supported in the "
                    "config. Ignoring... every device of %s is replicated" % (epath, path, name))
            rename = entry.get("rename")
            if rename is not None and not rbd:
                warnings.append(
                    "%s.rename: Setting the 'rename' field in %s.resources is not yet supported in the config. "
                    "Ignoring... %s is advertised as %s" % (epath, path, name, name))
            elif rbd and rename != name + SHARED_SUFFIX:
                warnings.append(
                    "%s.rename: Setting the 'rename' field in %s.resources is not yet supported in the config. "
                    "Ignoring... renameByDefault advertises %s as %s%s, not %s"
                    % (epath, path, name, name, SHARED_SUFFIX, rename))
            if name in seen:
                warnings.append(
                    "%s: duplicate resource name %s (also at %s.resources[%d]); upstream merges the entries: each "
                    "device is advertised max(replicas) times and the labels use the first entry's replicas"
                    % (epath, name, path, seen[name]))
            else:
                seen[name] = i
    if "mps" in sharing and "timeSlicing" in sharing:
        warnings.append("sharing: both timeSlicing and mps are set; upstream applies sharing.mps only and "
                        "ignores sharing.timeSlicing entirely")
    strategy = sharing_strategy(config)
    if strategy == "time-slicing":
        ts = sharing["timeSlicing"]
        if not ts.get("failRequestsGreaterThanOne"):
            warnings.append(
                "sharing.timeSlicing.failRequestsGreaterThanOne is %s: a pod that requests 2 or more shares is "
                "admitted but gets no more GPU time or memory than a pod with 1 (time-slicing does not isolate); "
                "set it to true to reject such requests"
                % ("false" if "failRequestsGreaterThanOne" in ts else "unset (false)"))
    elif strategy == "mps":
        mps = sharing["mps"]
        for entry in mps["resources"]:
            replicas = entry["replicas"]
            warnings.append(
                "sharing.mps: each of the %d replicas of %s is limited to 1/%d of the GPU's memory and compute "
                "by the MPS control daemon (MPS is experimental upstream; it needs the mps-control-daemon, which "
                "runs on nodes labelled nvidia.com/mps.capable=true)" % (replicas, entry["name"], replicas))
            if entry["name"] != RESOURCE_PREFIX + "/gpu":
                warnings.append("sharing.mps: upstream supports MPS only for nvidia.com/gpu on full GPUs, not %s"
                                % entry["name"])
        if mps.get("failRequestsGreaterThanOne") is False:
            warnings.append("sharing.mps.failRequestsGreaterThanOne is false: a pod may take several MPS "
                            "replicas of the same GPU")
    return warnings


# --------------------------------------------------------------------------- node model


def _compute_capability_tuple(value):
    """golang.org/x/mod/semver on 'v' + cc; None when it is not a valid version."""
    if value is None:
        return None
    text = str(value)
    if text.startswith("v"):
        text = text[1:]
    parts = text.split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() and (p == "0" or not p.startswith("0")) for p in parts):
        return None
    nums = [int(p) for p in parts]
    return tuple(nums + [0] * (3 - len(nums)))


def mps_max_clients(compute_capability):
    """48 MPS clients from compute capability 7.5 on, else 16; None when the capability is unknown."""
    cc = _compute_capability_tuple(compute_capability)
    if cc is None:
        return None
    return 48 if cc >= (7, 5, 0) else 16


def _mig_enabled(gpu):
    return str(gpu.get("mig_mode") or "").lower() == "enabled"


def _check_gpus(gpus, path="gpus"):
    if gpus is None:
        return None
    if not isinstance(gpus, (list, tuple)):
        raise _error(path, "must be a list of GPUs (the shape of ansible_facts.nvidia.gpus)")
    out = []
    for i, gpu in enumerate(gpus):
        gpath = "%s[%d]" % (path, i)
        if not isinstance(gpu, dict):
            raise _error(gpath, "must be a dict with index, uuid, name, compute_capability, mig_mode, mig_devices")
        migs = gpu.get("mig_devices") or []
        if not isinstance(migs, (list, tuple)) or not all(isinstance(m, dict) for m in migs):
            raise _error(gpath + ".mig_devices", "must be a list of dicts with index, uuid, profile")
        index = gpu.get("index", i)
        item = dict(gpu)
        item["index"] = index
        item["name"] = str(gpu.get("name") or "")
        item["uuid"] = str(gpu.get("uuid") or "GPU-index-%s" % index)
        item["mig_devices"] = [dict(m) for m in migs]
        out.append(item)
    return out


def build_device_map(gpus, mig_strategy="none", wsl=False):
    """Default resources and devices per resource (internal/rm/rm.go, device_map.go).

    Returns ``{resource: [device dict, ...]}`` where a device dict has ``id``, ``gpu`` (the GPU
    dict) and ``mig`` (the MIG device dict or None). Raises on node states upstream rejects.
    """
    devices = {}
    full_name = RESOURCE_PREFIX + "/gpu"
    for gpu in gpus:
        if _mig_enabled(gpu) and mig_strategy != "none":
            continue
        if wsl:
            # v0.19.1+: on WSL every GPU becomes one device "all" backed by /dev/dxg.
            devices[full_name] = [{"id": "all", "gpu": gpu, "mig": None, "wsl": True}]
            continue
        devices.setdefault(full_name, []).append({"id": gpu["uuid"], "gpu": gpu, "mig": None})
    if mig_strategy == "none":
        return devices
    mig_devices = {}
    for gpu in gpus:
        if not _mig_enabled(gpu):
            continue
        for mig in gpu["mig_devices"]:
            profile = str(mig.get("profile") or "")
            if mig_strategy == "single":
                name = full_name
            else:
                if re.match(r"^\d+c\.", profile) or not profile:
                    raise _error("gpus[%s]" % gpu["index"], "error building device map: error building device map "
                                 "from config.resources: error building MIG device map: MIG profile '%s' does "
                                 "not match any resource patterns" % profile)
                name = RESOURCE_PREFIX + "/mig-" + profile.replace("+", ".")
            mig_id = str(mig.get("uuid") or "MIG-%s-%s" % (gpu["uuid"], mig.get("index")))
            mig_devices.setdefault(name, []).append({"id": mig_id, "gpu": gpu, "mig": mig})
    prefix = "error building device map: error building device map from config.resources: invalid MIG configuration: "
    uniform = mig_strategy == "single"
    for gpu in gpus:
        if _mig_enabled(gpu) and not gpu["mig_devices"] and uniform:
            raise _error("gpus[%s]" % gpu["index"], prefix + "at least one device with migEnabled=true was not "
                         "configured correctly: device %s has no MIG devices configured" % gpu["index"])
    if uniform:
        profiles = set()
        for gpu in gpus:
            if _mig_enabled(gpu):
                profiles.update(str(m.get("profile") or "") for m in gpu["mig_devices"])
        if len(profiles) > 1:
            raise _error("gpus", prefix + "more than one MIG device type present on node (%s)"
                         % ", ".join(sorted(profiles)))
        if devices and mig_devices:
            raise _error("gpus", "error building device map: error building device map from config.resources: "
                         "all devices on the node must be configured with the same migEnabled value")
    for name, devs in mig_devices.items():
        devices.setdefault(name, []).extend(devs)
    return devices


def compute_capacity(config, gpus, mig_strategy=None, wsl=False):
    """Advertised capacity ``{resource: count}`` for a node with ``gpus``; returns ``(capacity, warnings)``.

    Follows upstream v0.20.0: devices/rename are ignored, every device of a named resource
    is replicated ``replicas`` times under ``<name>.shared`` (renameByDefault) or ``<name>``;
    duplicate names merge (max replicas); MPS rules of the plugin and the MPS daemon apply.
    """
    warnings = []
    gpus = _check_gpus(gpus)
    migs = effective_mig_strategy(config, mig_strategy)
    device_map = build_device_map(gpus or [], migs, wsl)
    block_name, block = applied_block(config)
    strategy = sharing_strategy(config)
    entries = block["resources"] if block else []
    rbd = bool(block and block["renameByDefault"])
    names = set(e["name"] for e in entries)

    if strategy == "mps":
        for name, devs in sorted(device_map.items()):
            if any(d["mig"] is not None for d in devs):
                raise _error("sharing.mps", "sharing using MPS is not supported for MIG devices (%s has MIG "
                             "devices under mig_strategy=%s)" % (name, migs))

    replicated = {}  # target -> set of annotated ids
    capacity = {}
    for name, devs in device_map.items():
        if name not in names:
            capacity[name] = len(set(d["id"] for d in devs))
    for i, entry in enumerate(entries):
        name = entry["name"]
        devs = device_map.get(name, [])
        if not devs:
            if gpus is not None:
                warnings.append("sharing.%s.resources[%d]: no device on this node is advertised as %s (mig_strategy="
                                "%s); the entry has no effect" % (block_name, i, name, migs))
            continue
        target = name + SHARED_SUFFIX if rbd else name
        ids = replicated.setdefault(target, set())
        for dev in devs:
            for r in range(entry["replicas"]):
                ids.add("%s::%d" % (dev["id"], r))
        if strategy == "mps":
            _check_mps_limits(block_name, i, entry, devs, warnings)
    for target, ids in replicated.items():
        capacity[target] = capacity.get(target, 0) + len(ids)
    return dict(sorted(capacity.items())), warnings


def _check_mps_limits(block_name, i, entry, devs, warnings):
    path = "sharing.%s.resources[%d]" % (block_name, i)
    replicas = entry["replicas"]
    for dev in devs:
        gpu = dev["gpu"]
        if dev.get("wsl"):
            cc_text = ""  # WSL devices report no compute capability: upstream falls back to 16
        else:
            cc_text = gpu.get("compute_capability")
            if cc_text is None:
                if replicas > 48:
                    raise _error(path, "invalid MPS configuration: invalid device maximum allowed replicas "
                                 "exceeded: %d > 48 (GPU %s %s, compute capability unknown: the limit is 48 "
                                 "or 16)" % (replicas, gpu["index"], gpu["name"]))
                if replicas > 16:
                    warnings.append("%s: GPU %s (%s) has no known compute capability; MPS allows %d replicas only "
                                    "from compute capability 7.5 on (16 below)"
                                    % (path, gpu["index"], gpu["name"], replicas))
                continue
        limit = mps_max_clients(cc_text) or 16
        if replicas > limit:
            raise _error(path, "invalid MPS configuration: invalid device maximum allowed replicas exceeded: "
                         "%d > %d (GPU %s %s, compute capability %s)"
                         % (replicas, limit, gpu["index"], gpu["name"], cc_text or "unknown"))


# --------------------------------------------------------------------------- labels


def sanitise_product(text):
    """GFD sanitise(): drop characters outside [A-Za-z0-9-_. ], whitespace runs become '-'."""
    text = re.sub(r"[^A-Za-z0-9\-_. ]", "", text)
    return "-".join(text.split())


def _replication_info(config, resource):
    """The first entry of the applied sharing block naming ``resource`` (GFD resource.go)."""
    _name, block = applied_block(config)
    if not block:
        return None, False
    for entry in block["resources"]:
        if entry["name"] == resource:
            return entry, bool(block["renameByDefault"])
    return None, False


def _resource_labels(config, resource, count, parts, sharing=True):
    strategy = sharing_strategy(config)
    entry, renamed = _replication_info(config, resource) if sharing else (None, False)
    if not sharing:
        replicas = 0
    elif entry is not None and entry["replicas"] > 0:
        replicas = entry["replicas"]
    else:
        replicas = 1
    shared = entry is not None and entry["replicas"] > 1
    product_parts = [sanitise_product(p) for p in parts if p]
    if shared and not renamed:
        product_parts.append("SHARED")
    return {
        resource + ".count": str(count),
        resource + ".product": "-".join(product_parts),
        resource + ".replicas": str(replicas),
        resource + ".sharing-strategy": strategy if (sharing and replicas > 1) else "none",
    }


def compute_labels(config, gpus, mig_strategy=None):
    """The sharing-related labels GFD writes for a node (internal/lm/resource.go, mig-strategy.go).

    ``<R>.count``, ``<R>.product`` (``-SHARED`` when shared and not renamed), ``<R>.replicas``
    and ``<R>.sharing-strategy`` for R = nvidia.com/gpu (and nvidia.com/mig-<profile> under
    mixed), plus ``nvidia.com/mig.strategy`` for single/mixed. Returns ``(labels, warnings)``.
    """
    warnings = []
    gpus = _check_gpus(gpus)
    if not gpus:
        return {}, warnings
    migs = effective_mig_strategy(config, mig_strategy)
    full = RESOURCE_PREFIX + "/gpu"
    labels = {}
    models = _uniq(g["name"] for g in gpus)
    mig_enabled = [g for g in gpus if _mig_enabled(g)]
    full_gpus = [g for g in gpus if not _mig_enabled(g)]
    # GFD writes nvidia.com/gpu.* once per model, MIG-enabled GPUs first (without sharing: replicas 0),
    # then full GPUs, which win; count is the number of GPUs of that model.
    model = (full_gpus or mig_enabled)[0]["name"]
    if len(models) > 1:
        warnings.append("gpus: several GPU models on one node (%s): GFD writes the nvidia.com/gpu.* labels for "
                        "one of them at random; shown here for %s" % (", ".join(models), model))
    count = len([g for g in gpus if g["name"] == model])
    labels.update(_resource_labels(config, full, count, [model], sharing=bool(full_gpus)))
    if migs == "single" and mig_enabled and not full_gpus:
        profiles = [str(m.get("profile") or "") for g in mig_enabled for m in g["mig_devices"]]
        if len(set(profiles)) == 1:
            labels.update(_resource_labels(config, full, len(profiles),
                                           [mig_enabled[0]["name"], "MIG", profiles[0]]))
    elif migs == "mixed":
        per_profile = {}
        for gpu in mig_enabled:
            for mig in gpu["mig_devices"]:
                profile = str(mig.get("profile") or "")
                per_profile.setdefault(profile, [gpu["name"], 0])[1] += 1
        for profile in sorted(per_profile):
            parent, count = per_profile[profile]
            labels.update(_resource_labels(config, RESOURCE_PREFIX + "/mig-" + profile, count,
                                           [parent, "MIG", profile]))
    if migs in ("single", "mixed"):
        labels["nvidia.com/mig.strategy"] = migs
    return dict(sorted(labels.items())), warnings


# --------------------------------------------------------------------------- one config


def prepare(config=None, time_slicing=None, mig_strategy=None):
    """Parse, check flags and collect config-level warnings: ``(normalised, warnings)``."""
    if config is not None and time_slicing is not None:
        raise _error("", "parameters are mutually exclusive: config|time_slicing")
    if time_slicing is not None:
        config = time_slicing_to_config(time_slicing)
    if mig_strategy is not None and mig_strategy not in MIG_STRATEGIES:
        raise _error("mig_strategy", "unknown MIG strategy: %s" % mig_strategy)
    normalised, warnings = parse_config(config)
    warnings.extend(config_warnings(normalised))
    warnings.extend(validate_flags(normalised, mig_strategy))
    return normalised, _uniq(warnings)


def predict(config, gpus, mig_strategy=None, wsl=False):
    """Node-level prediction for a normalised config: ``(capacity, labels, warnings)``."""
    capacity, warnings = compute_capacity(config, gpus, mig_strategy, wsl)
    labels, more = compute_labels(config, gpus, mig_strategy)
    return capacity, labels, _uniq(warnings + more)


def analyse(config=None, time_slicing=None, gpus=None, mig_strategy=None, wsl=False):
    """Validate and predict one device plugin config.

    Give ``config`` (the file as a dict) or ``time_slicing`` (the shorthand). Returns a dict
    with ``config`` (normalised), ``config_yaml``, ``capacity``, ``labels``,
    ``sharing_strategy``, ``mig_strategy`` and ``warnings``. ``capacity`` and ``labels``
    are empty when ``gpus`` is None.
    """
    normalised, warnings = prepare(config, time_slicing, mig_strategy)
    capacity, labels = {}, {}
    if gpus is not None:
        capacity, labels, more = predict(normalised, gpus, mig_strategy, wsl)
        warnings.extend(more)
    elif sharing_strategy(normalised) == "mps":
        warnings.append("sharing.mps: gpus not given, so the MPS replica limit (48 from compute capability 7.5 "
                        "on, 16 below) was not checked")
    return {
        "config": normalised,
        "config_yaml": render_yaml(normalised),
        "capacity": capacity,
        "labels": labels,
        "sharing_strategy": sharing_strategy(normalised),
        "mig_strategy": effective_mig_strategy(normalised, mig_strategy),
        "warnings": _uniq(warnings),
    }


# --------------------------------------------------------------------------- per-model config map


def config_key(model):
    """A ConfigMap key / label value for a GPU model: lower case DNS-1123, <= 63 chars."""
    key = re.sub(r"[^a-z0-9]+", "-", str(model).lower()).strip("-")
    return key[:63].strip("-")


def _model_match_key(model):
    return sanitise_product(str(model)).lower()


def _host_gpus(host, value):
    """hosts_gpus values: a gpus list, or the whole ansible_facts.nvidia dict (its wsl flag is used)."""
    if isinstance(value, dict):
        return value.get("gpus") or [], bool(value.get("wsl"))
    if value is None:
        return [], False
    if not isinstance(value, (list, tuple)):
        raise _error("hosts_gpus.%s" % host, "must be a list of GPUs or the ansible_facts.nvidia dict")
    return value, False


def _prepare_entry(item, path, mig_strategy):
    if not isinstance(item, dict):
        raise _error(path, "must be a dict")
    has_config = item.get("config") is not None
    has_ts = item.get("time_slicing") is not None
    if has_config == has_ts:
        raise _error(path, "needs exactly one of config or time_slicing")
    try:
        return prepare(item.get("config"), item.get("time_slicing"), mig_strategy)
    except DevicePluginConfigError as exc:
        raise DevicePluginConfigError("%s: %s" % (path, exc))


def build_config_map(per_model, hosts_gpus=None, default=None, mig_strategy=None):
    """One ConfigMap for several GPU models, plus the node label that selects each host's entry.

    ``per_model``: list of ``{model, key (optional), config | time_slicing}``; ``hosts_gpus``:
    ``{host: gpus list or ansible_facts.nvidia}``; ``default``: optional ``{config |
    time_slicing}`` stored under the key ``default`` (what the Helm chart's ``named`` fallback
    picks). A host is matched by the model of its first GPU and labelled
    ``nvidia.com/device-plugin.config=<key>``; a host with no matching model gets ``default``
    when there is one, else no label. Returns ``{config_map, configs, node_labels, capacity,
    labels, warnings}`` with ``capacity``/``labels`` per host.
    """
    warnings = []
    configs = {}
    owners = {}
    models = []
    if default is not None:
        normalised, more = _prepare_entry(default, "default", mig_strategy)
        configs[DEFAULT_CONFIG_KEY] = normalised
        owners[DEFAULT_CONFIG_KEY] = "the default config"
        warnings.extend("default: %s" % w for w in more)
    for i, item in enumerate(per_model or []):
        path = "per_model[%d]" % i
        if not isinstance(item, dict) or not item.get("model"):
            raise _error(path, "needs model (the GPU name as nvidia-smi reports it)")
        model = str(item["model"])
        key = item.get("key") or config_key(model)
        if len(key) > 63 or not _DNS1123_SUBDOMAIN_RE.fullmatch(key):
            raise _error(path + ".key", "'%s' is not usable as a ConfigMap key and node label value (lower case "
                         "alphanumerics, '-' or '.', at most 63 characters, alphanumeric at both ends)" % key)
        if key in owners:
            raise _error(path, "ConfigMap key '%s' is already used by %s; set key explicitly" % (key, owners[key]))
        match = _model_match_key(model)
        for other_match, other_key, _other in models:
            if other_match == match:
                raise _error(path, "model %s is already listed (key '%s')" % (model, other_key))
        owners[key] = "%s (%s)" % (path, model)
        normalised, more = _prepare_entry(item, path, mig_strategy)
        configs[key] = normalised
        warnings.extend("%s (%s): %s" % (path, model, w) for w in more)
        models.append((match, key, model))
    node_labels = {}
    capacity = {}
    labels = {}
    for host in sorted(hosts_gpus or {}, key=str):
        hpath = "hosts_gpus.%s" % host
        gpus, wsl = _host_gpus(host, hosts_gpus[host])
        gpus = _check_gpus(gpus, hpath)
        if not gpus:
            warnings.append("%s: no GPUs, so no config label" % hpath)
            continue
        host_models = _uniq(g["name"] for g in gpus)
        if len(host_models) > 1:
            warnings.append("%s: several GPU models (%s); one config applies to the whole node: the one for %s "
                            "(its first GPU)" % (hpath, ", ".join(host_models), host_models[0]))
        found = [k for m, k, _model in models if m == _model_match_key(host_models[0])]
        if found:
            key = found[0]
        elif default is not None:
            key = DEFAULT_CONFIG_KEY
            warnings.append("%s: no per_model entry for %s; labelled with the default config" % (hpath, host_models[0]))
        else:
            warnings.append("%s: no per_model entry for %s and no default config; no config label, so the "
                            "plugin's fallback strategies decide" % (hpath, host_models[0]))
            continue
        node_labels[host] = {CONFIG_LABEL: key}
        try:
            capacity[host], labels[host], more = predict(configs[key], gpus, mig_strategy, wsl)
        except DevicePluginConfigError as exc:
            raise DevicePluginConfigError("%s (config '%s'): %s" % (hpath, key, exc))
        warnings.extend("%s (config '%s'): %s" % (hpath, key, w) for w in more)
    return {
        "config_map": dict((k, render_yaml(v)) for k, v in configs.items()),
        "configs": configs,
        "sharing_strategy_by_key": dict((k, sharing_strategy(v)) for k, v in configs.items()),
        "device_list_strategy_by_key": dict((k, device_list_strategies(v)) for k, v in configs.items()),
        "node_labels": node_labels,
        "capacity": capacity,
        "labels": labels,
        "warnings": _uniq(warnings),
    }
