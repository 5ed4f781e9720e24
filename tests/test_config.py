"""Every yaml in every config group composes, and every method's arguments build its TRL config class."""

from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import CONF, compose_cfg
from harness import methods


def group_options(group: str) -> list[str]:
    return sorted(str(p.relative_to(CONF / group).with_suffix("")) for p in (CONF / group).rglob("*.yaml"))


@pytest.mark.parametrize("group", ["method", "model", "data", "hardware", "sweep"])
def test_every_yaml_in_group_composes(group):
    options = group_options(group)
    assert options, f"conf/{group}/ is empty"
    for option in options:
        cfg = compose_cfg([f"{group}={option}"], shrink=False, hydra_node=True)
        OmegaConf.to_container(cfg, resolve=False)  # the whole tree is well-formed
        if group != "sweep":
            assert cfg[group] is not None


@pytest.mark.parametrize("name", group_options("method"))
def test_method_yaml_builds_its_trl_config(name, tmp_path):
    cfg = OmegaConf.to_container(compose_cfg([f"method={name}"], shrink=False), resolve=True)
    assert cfg["method"]["name"] == name, "a method yaml's name must equal its file name (the registry key)"
    kwargs = methods.trl_kwargs(cfg["method"], cfg["trainer"])
    methods.validate(name, kwargs)
    args = methods.get(name).config_class()(output_dir=str(tmp_path), use_cpu=True, bf16=False, **kwargs)
    for key, value in cfg["method"].items():
        if key not in methods.HARNESS_KEYS and not isinstance(value, list):
            assert getattr(args, key) == value, f"{name}: {key} did not reach the TRL config"


def test_every_registered_method_has_a_yaml():
    assert set(methods.REGISTRY) == set(group_options("method"))


def test_any_trl_field_can_be_overridden_from_the_command_line():
    cfg = compose_cfg(["method=kto", "method.max_grad_norm=0.5", "method.learning_rate=1e-4", "method.beta=0.2"])
    assert cfg.method.max_grad_norm == 0.5 and cfg.method.learning_rate == 1e-4 and cfg.method.beta == 0.2


@pytest.mark.parametrize("override, message", [
    (["method.learnin_rate=1e-3"], "Did you mean method.learning_rate"),
    (["method.learning_rate=-1e-3"], "out of range"),
    (["method.beta=0"], "out of range"),
    (["method=kto", "method.per_device_train_batch_size=1"], "needs per_device_train_batch_size >= 2"),
])
def test_bad_method_arguments_are_rejected(override, message, tmp_path):
    cfg = OmegaConf.to_container(compose_cfg(override), resolve=True)
    with pytest.raises(methods.ConfigError, match=message):
        methods.job_kwargs(cfg, str(tmp_path), "cpu", "float32")


def test_the_search_preset_keeps_the_default_train_and_val_splits():
    """sweep=search (every validation-search job) shrinks only the test split and the benchmark: the tuned files'
    data fingerprint covers train and val, which must be the default's."""
    from harness import data as datalib

    assert "search" in set(group_options("sweep"))
    default = datalib.load(datalib.as_dict(compose_cfg([], shrink=False).data))
    search = datalib.load(datalib.as_dict(compose_cfg(["sweep=search"], shrink=False).data))
    assert search.fingerprint(("train", "val")) == default.fingerprint(("train", "val"))
    assert len(search.splits["test"]) < len(default.splits["test"])


def test_a_copied_package_without_conf_says_it_runs_from_its_checkout(tmp_path):
    """A non-editable `pip install .` copies harness/ without the top-level conf/: the entry points say so in
    one paragraph (exit 2) instead of a Hydra traceback."""
    import shutil
    import subprocess
    import sys

    from conftest import ROOT

    shutil.copytree(ROOT / "harness", tmp_path / "site" / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    for module in ("harness.train", "harness.report"):
        proc = subprocess.run([sys.executable, "-m", module], cwd=tmp_path, capture_output=True, text=True,
                              env={"PYTHONPATH": str(tmp_path / "site"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin"},
                              timeout=120)
        assert proc.returncode == 2, (module, proc.stderr[-800:])
        assert "runs from its checkout" in proc.stderr and "Traceback" not in proc.stderr


def test_the_zoo_preset_runs_every_registered_method_and_the_listing_names_them():
    cfg = compose_cfg(["sweep=zoo"], hydra_node=True)
    assert set(cfg.hydra.sweeper.params.method.split(",")) == set(methods.REGISTRY)
    assert len(methods.REGISTRY) >= 18
    listing = subprocess.run([sys.executable, "-m", "harness.methods"], capture_output=True, text=True, check=True).stdout
    assert all(name in listing for name in methods.REGISTRY)
    assert all(family in listing for family in methods.FAMILIES)
