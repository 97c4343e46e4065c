"""playbooks/awx_configure.yml checked as data: what AWX would be told is consistent
with what the roles, playbooks and the example inventory read. The jobs themselves
run in the execution environment in `make awx-jobs` (scripts/awx_jobs.py lab)."""
import itertools
import re
from pathlib import Path

import pytest
import yaml

import awx_jobs
from awx_jobs import AwxConfig, _resolve, stage_of
import ee

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg():
    return AwxConfig()


def role_options():
    opts = {}
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        data = yaml.safe_load(spec.read_text())
        for entry in data["argument_specs"].values():
            for name, option in (entry.get("options") or {}).items():
                opts[name] = (spec.parent.parent.name, option)
    return opts


def role_default(role, name):
    # pins are lookups of the version matrix: compared resolved, as Ansible and AWX see them
    return _resolve(yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())[name], {})


def readers_of(name):
    """Files outside awx_configure.yml that read `name` in a template or as a role option."""
    pattern = re.compile(r"\b" + re.escape(name) + r"\b")
    hits = []
    for path in itertools.chain(ROOT.glob("roles/*/tasks/*.yml"), ROOT.glob("roles/*/templates/*"),
                                ROOT.glob("roles/*/defaults/main.yml"), ROOT.glob("roles/*/vars/main.yml"),
                                ROOT.glob("playbooks/*.yml"), ROOT.glob("inventory/example/**/*.yml")):
        if path.name == "awx_configure.yml" or not path.is_file():
            continue
        text = path.read_text()
        # a reader uses the name inside {{ }} / {% %} or in a when/that expression,
        # not only as the key that sets it
        for line in text.splitlines():
            stripped = line.strip()
            if pattern.search(line) and not re.match(r"^-?\s*" + re.escape(name) + r"\s*:", stripped):
                hits.append(str(path.relative_to(ROOT)))
                break
    return hits


def test_every_survey_variable_is_read(cfg):
    options = role_options()
    for name, jt in cfg.job_templates.items():
        for q in (jt.get("survey_spec") or {}).get("spec", []):
            var = q["variable"]
            assert var in options or readers_of(var), f"{name}: survey variable {var} is read by nothing"


def test_survey_defaults_are_the_role_defaults(cfg):
    """A survey default of a role variable must not silently differ from the role's default."""
    options = role_options()
    for name, jt in cfg.job_templates.items():
        for q in (jt.get("survey_spec") or {}).get("spec", []):
            if q["variable"] in options and q.get("default") not in (None, ""):
                role = options[q["variable"]][0]
                assert str(q["default"]) == str(role_default(role, q["variable"])), (name, q["variable"])


def test_survey_answers_validate_like_awx(cfg):
    cluster = next(n for n in cfg.job_templates if stage_of(cfg, n) == "cluster")
    assert cfg.survey_answers(cluster)["gpu_cluster_mode"] == "apply"
    assert cfg.survey_answers(cluster, {"gpu_cluster_mode": "render"})["gpu_cluster_mode"] == "render"
    with pytest.raises(ValueError, match="not one of"):
        cfg.survey_answers(cluster, {"gpu_cluster_mode": "delete"})
    with pytest.raises(ValueError, match="outside"):
        cfg.survey_answers(cluster, {"gpu_cluster_replicas_a2": 1})
    with pytest.raises(ValueError, match="no survey question"):
        cfg.survey_answers(cluster, {"gpu_cluster_replicas_t4": 2})


def test_injectors_match_what_the_roles_read(cfg):
    options = role_options()
    assert cfg.credential_types, "awx_configure.yml defines no credential type"
    for name, ctype in cfg.credential_types.items():
        injectors = ctype.get("injectors") or {}
        assert set(injectors) <= {"extra_vars"}, f"{name}: injects {sorted(injectors)}; nothing reads files/env"
        for var, template in injectors["extra_vars"].items():
            assert var in options, f"{name}: injects {var}, which no role reads"
            fields = {f["id"] for f in ctype["inputs"]["fields"]}
            assert re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", template).group(1) in fields
    linux = next(n for n in cfg.job_templates if stage_of(cfg, n) == "linux")
    assert cfg.injected_extra_vars(linux, {c: {"token": "t"} for c in cfg.credentials}) == {"cluster_join_token": "t"}


def test_job_templates_point_at_real_things(cfg):
    site = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    site_tags = {t for play in site for t in play.get("tags", [])}
    assert (ROOT / cfg.inventory_source_path).is_file()
    for name, jt in cfg.job_templates.items():
        assert (ROOT / jt["playbook"]).is_file(), name
        for tag in filter(None, (jt.get("job_tags") or "").split(",")):
            assert tag in site_tags, f"{name}: job tag {tag} selects nothing in site.yml"
        assert cfg.machine_credential(name), f"{name}: no Machine credential"
    assert {stage_of(cfg, n) for n in cfg.job_templates} == {"windows", "linux", "cluster", "doctor", "lifecycle"}


def test_lifecycle_templates_run_the_lifecycle_playbooks_outside_the_workflow(cfg):
    lifecycle = {cfg.job_templates[n]["playbook"]: n for n in cfg.job_templates if stage_of(cfg, n) == "lifecycle"}
    assert sorted(lifecycle) == sorted(awx_jobs.LIFECYCLE_PLAYBOOKS)
    in_workflow = {v["template"] for v in cfg.workflow_graph().values()}
    assert not in_workflow & set(lifecycle.values())
    for playbook, name in lifecycle.items():
        assert cfg.job_templates[name].get("ask_limit_on_launch"), f"{name}: one node must be choosable at launch"
    upgrade = lifecycle["playbooks/upgrade.yml"]
    linux = next(n for n in cfg.job_templates if stage_of(cfg, n) == "linux")
    # the upgrade runs cluster_join: it needs the token like the linux stage, and asks the same versions
    assert cfg.injected_extra_vars(upgrade, {c: {"token": "t"} for c in cfg.credentials}) == {"cluster_join_token": "t"}
    assert cfg.survey_answers(upgrade) == cfg.survey_answers(linux)
    text = (ROOT / "docs" / "lifecycle.md").read_text()
    for name in lifecycle.values():
        assert name in text, f"docs/lifecycle.md does not name the job template {name}"


def test_workflow_stops_on_failure_and_always_ends_with_the_doctor(cfg):
    graph = cfg.workflow_graph()
    stage = {n: stage_of(cfg, v["template"]) for n, v in graph.items()}
    doctor = next(n for n, s in stage.items() if s == "doctor")
    stages = [n for n in cfg.workflow_path() if n != doctor]
    assert [stage[n] for n in stages] == ["windows", "linux", "cluster"]
    assert cfg.workflow_path()[-1] == doctor
    for failed_at, node in enumerate(stages):
        outcome = {n: True for n in stages[:failed_at]} | {node: False}
        path = cfg.workflow_path(outcome)
        assert path == stages[:failed_at + 1] + [doctor], f"{node} failing runs {path}"
    assert graph[doctor]["success"] == graph[doctor]["failure"] == graph[doctor]["always"] == []


def test_docs_awx_says_how(cfg):
    text = (ROOT / "docs" / "awx.md").read_text()
    for needle in ["execution-environment.yml", "ansible-builder build", "podman push", "awx_scm_url",
                   cfg.vars["awx_windows_credential"], cfg.vars["awx_linux_credential"],
                   cfg.vars["awx_k3s_token_credential"], cfg.inventory_source_path, "awx_configure.yml"]:
        assert needle in text, f"docs/awx.md does not mention {needle}"


def test_execution_environment_pins_match_requirements():
    pins = {}
    for line in ee.requirement_lines(ROOT / "requirements.txt"):
        name, version = line.split("==", 1)
        pins[name.lower()] = version
    user = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    deps = user["dependencies"]
    for line in ee.requirement_lines(ROOT / deps["python"]):
        name, version = line.split("==", 1)
        assert pins.get(name.lower()) == version, f"ee {line} != requirements.txt {pins.get(name.lower())}"
    for key in ("ansible_core", "ansible_runner"):
        name, version = deps[key]["package_pip"].split("==", 1)
        assert pins.get(name.lower()) == version, f"{key} {version} != requirements.txt"
    assert "|| true" not in (ROOT / "execution-environment.yml").read_text()


def test_lab_definition_is_the_user_definition_with_other_sources():
    user = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    lab = ee.lab_definition(user, "localhost/base:x", [])
    assert lab["images"]["base_image"]["name"] == "localhost/base:x"
    assert "galaxy" not in lab["dependencies"]
    for key in ("ansible_core", "ansible_runner"):
        assert lab["dependencies"][key] == user["dependencies"][key]
    # the collection is installed with the very same steps, at the end of the base stage
    steps = lab["additional_build_steps"]
    assert steps["append_base"][-len(user["additional_build_steps"]["append_galaxy"]):] == \
        user["additional_build_steps"]["append_galaxy"]
    assert "ENV PIP_NO_INDEX=1" in " ".join(steps["prepend_base"])
    assert {f["dest"] for f in lab["additional_build_files"]} >= {f["dest"] for f in user["additional_build_files"]}
