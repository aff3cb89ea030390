"""Training configurations: YAML files, dotted ``key=value`` overrides, validation, defaults.

A configuration is a nested mapping with these sections (every key optional; defaults in
:data:`DEFAULTS`)::

    name: my_run              # run folder name (default: the config file's stem)
    task: zones               # zones | outlines
    seed: 0
    output_dir: runs          # runs go to output_dir/name
    test: false               # evaluate the best model on the test split at the end
    model:      {name, preset, kwargs}
    data:       {kind: caffe | stack | demo, root, patch_size, batch_size, …}
    loss:       {kind, ce_weight, dice_weight, label_smoothing, gamma, class_weights, …}
    optimizer:  {name, lr, momentum, weight_decay, …}
    scheduler:  {name, restarts, factor, patience, monitor, …}
    augment:    {op: probability or {p, …}}     (see workbench.training.augment)
    validation: {window, keep, overlap, weighting, batch_size, resolution_m, min_cluster_px}
    trainer:    {max_epochs, accelerator, devices, strategy, precision, …}
    checkpoint: {monitor, mode, save_top_k}   monitor "last": no selection, the last epoch
    init:       {model, encoder, stem}   start from a whole model, or a pretrained encoder

``data: demo`` is short for ``data: {kind: demo}`` (the synthetic world simulated in memory);
``data: PATH`` picks the kind from what is there (``manifest.json``: demo, ``sar_images/``:
caffe, a stack or a folder of stacks: stack).

Packaged configs (``workbench/configs/*.yaml``) are found by name: ``load_config("demo_zones")``.
Pretraining configs (a top-level ``method``) belong to :mod:`workbench.training.pretrain`
(``workbench pretrain``) and are not listed by :func:`list_configs`.

``init.model: CHECKPOINT`` starts training from every weight of a saved or packaged model
(a ``best.pt``, or a name such as ``demo_zones``) and uses its normalisation, for fine-tuning
on a few labelled images of a new glacier; the model name and arguments must match the
checkpoint's (see :func:`workbench.training.fit.init_from_checkpoint`).

``init.encoder: PATH`` initialises the Swin V2 encoder of ``ssl4sar_hybrid`` before training:
an ``encoder.pt`` written by ``workbench pretrain`` (SSL4SAR pretraining), a workbench
``ssl4sar_hybrid`` checkpoint, or published Swin V2 weights (``init.stem``: how a 3-channel
stem becomes one channel, ``mean`` or ``sum``); see
:func:`workbench.training.pretrain.load_encoder_weights`.

Examples
--------
>>> cfg = load_config({"task": "zones", "data": "demo"}, ["trainer.max_epochs=2", "data.batch_size=4"])
>>> cfg["data"]["kind"], cfg["trainer"]["max_epochs"], cfg["data"]["batch_size"]
('demo', 2, 4)
>>> load_config({"trainer": {"max_epoch": 2}})
Traceback (most recent call last):
...
workbench.errors.ConfigError: variable 'trainer.max_epoch' is not a known option (expected one of ['accelerator', 'accumulate_grad_batches', 'check_val_every_n_epoch', 'deterministic', 'devices', 'enable_progress_bar', 'gradient_clip_val', 'limit_train_batches', 'limit_val_batches', 'log_every_n_steps', 'max_epochs', 'num_nodes', 'num_sanity_val_steps', 'num_threads', 'precision', 'strategy'])
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ConfigError
from workbench.training.augment import validate_augment_config

__all__ = [
    "DEFAULTS",
    "load_config",
    "apply_overrides",
    "list_configs",
    "config_path",
    "validate_config",
    "dump_config",
    "check_sections",
]

DEFAULTS: dict[str, Any] = {
    "name": None,
    "task": "zones",
    "seed": 0,
    "output_dir": "runs",
    "test": False,
    "model": {"name": "caffe_unet", "preset": "small", "kwargs": {}},
    "data": {
        "kind": "demo",
        "root": None,
        "patch_size": 64,
        "context_size": None,
        "batch_size": 8,
        "val_batch_size": 1,
        "num_workers": 0,
        "samples_per_image": 4,
        "normalization": "dataset",  # or per_window (see workbench.data.patches.Normalization)
        # caffe
        "split": None,
        "val_fraction": 0.1,
        "val_glaciers": None,
        "test_glaciers": None,
        "thin_fronts": False,
        # stacks
        "stacks": None,
        "fractions": [0.6, 0.2, 0.2],
        "val_tiles": [],
        "test_tiles": [],
        "variables": ["sigma0_db", "coherence"],
        "label": "outline",
        "time_steps": None,
        "sources": None,
        "bands": None,
        "val_windows": 1,
        # demo world in memory
        "n_glaciers": 3,
        "years": 1.0,
        "size": 128,
        "pixel_size": 80.0,
        "world_seed": 0,
        "resample_factors": None,  # e.g. [1, 2, 4]: also 40 m / 20 m glaciers resampled to 80 m
        "resample_mode": "all",  # every factor for each glacier, or "cycle" (training glaciers)
    },
    "loss": {
        "kind": "ce_dice",
        "ce_weight": 0.5,
        "dice_weight": 0.5,
        "label_smoothing": 0.1,
        "gamma": 2.0,
        "class_weights": None,
        "ignore_index": -100,
        "dice_smooth": 1.0,
        "target_weight": 1.0,
        "context_weight": 1.0,
        "front_weight": 1.0,
        "front_pos_weight": 10.0,
        "aux_weight": None,
    },
    "optimizer": {
        "name": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "nesterov": False,
        "betas": [0.9, 0.999],
    },
    "scheduler": {
        "name": "none",
        "restarts": [10, 30, 70, 150],
        "eta_min_ratio": 0.0,
        "factor": 0.5,
        "patience": 5,
        "monitor": "auto",
        "mode": "auto",
        "base_lr": None,
        "max_lr": None,
        "step_size_up": None,
        "cyclic_mode": "triangular",
        "pct_start": 0.1,
    },
    "augment": {},
    "validation": {
        "window": None,
        "keep": None,
        "overlap": 0.5,
        "weighting": "uniform",
        "batch_size": 8,
        "resolution_m": "meta",
        "min_cluster_px": None,
    },
    "trainer": {
        "max_epochs": 10,
        "accelerator": "auto",
        "devices": "auto",
        "strategy": "auto",
        "num_nodes": 1,
        "precision": "auto",
        "deterministic": "auto",
        "num_sanity_val_steps": 1,
        "log_every_n_steps": 10,
        "limit_train_batches": None,
        "limit_val_batches": None,
        "check_val_every_n_epoch": 1,
        "gradient_clip_val": None,
        "accumulate_grad_batches": 1,
        "enable_progress_bar": True,
        "num_threads": None,
    },
    "checkpoint": {"monitor": "auto", "mode": "auto", "save_top_k": 1},
    "init": {"model": None, "encoder": None, "stem": "mean"},
}
"""Every option with its default value."""

_FREE = {("model", "kwargs"), ("augment",), ("data", "sources")}  # free-form mappings


class _Loader(yaml.SafeLoader):
    """YAML loader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``) and refuses
    a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} on lines {seen[key]} and {line} (each "
                    "key may appear once per mapping; merge the two)",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


# --------------------------------------------------------------------------- validators


def _int(lo: int | None = None, optional: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        ok = isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo)
        what = f"an integer ≥ {lo}" if lo is not None else "an integer"
        return None if ok else what + (" or null" if optional else "")

    return check


def _num(
    lo: float | None = None,
    hi: float | None = None,
    *,
    strict_lo: bool = False,
    optional: bool = False,
) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if ok and lo is not None:
            ok = v > lo if strict_lo else v >= lo
        if ok and hi is not None:
            ok = v <= hi
        rng = []
        if lo is not None:
            rng.append(f"{'>' if strict_lo else '≥'} {lo:g}")
        if hi is not None:
            rng.append(f"≤ {hi:g}")
        what = "a number" + (" " + " and ".join(rng) if rng else "")
        return None if ok else what + (" or null" if optional else "")

    return check


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def _choice(*options: Any) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in options else f"one of {list(options)}"

    return check


def _str(optional: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        return (
            None
            if isinstance(v, str) and v
            else "a non-empty string" + (" or null" if optional else "")
        )

    return check


def _path(optional: bool = True) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        return (
            None
            if isinstance(v, (str, os.PathLike))
            else "a path" + (" or null" if optional else "")
        )

    return check


def _str_list(optional: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        ok = isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v)
        return None if ok else "a list of strings" + (" or null" if optional else "")

    return check


def _glaciers(v: Any) -> str | None:
    if v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
        return None
    if isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v):
        return None
    return "a count ≥ 0, a list of glacier names, or null"


def _num_list(n: int | None = None, optional: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        ok = (
            isinstance(v, (list, tuple))
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            and (n is None or len(v) == n)
        )
        what = f"a list of {n} numbers" if n else "a list of numbers"
        return None if ok else what + (" or null" if optional else "")

    return check


def _int_or_str(v: Any) -> str | None:
    if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
        return None
    if isinstance(v, list) and all(isinstance(i, int) for i in v):
        return None
    return "'auto', a device count ≥ 1 or a list of device ids"


def _sources(v: Any) -> str | None:
    if v is None:
        return None
    ok = (
        isinstance(v, Mapping)
        and v
        and all(
            isinstance(k, str)
            and isinstance(vs, (list, tuple))
            and vs
            and all(isinstance(s, str) for s in vs)
            for k, vs in v.items()
        )
    )
    return None if ok else "null or a mapping {source: [variables]}"


def _resolution(v: Any) -> str | None:
    if (
        v is None
        or v == "meta"
        or (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0)
    ):
        return None
    return "'meta', a pixel size in metres > 0, or null (unknown: report pixels)"


def _limit(v: Any) -> str | None:
    if (
        v is None
        or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
        or (isinstance(v, float) and 0 < v <= 1)
    ):
        return None
    return "null, a number of batches ≥ 1, or a fraction in (0, 1]"


def _deterministic(v: Any) -> str | None:
    return None if v in ("auto", "warn", True, False) else "'auto', 'warn', true or false"


_CHECKS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "": {
        "name": _str(optional=True),
        "task": _choice("zones", "outlines"),
        "seed": _int(0),
        "output_dir": _path(optional=False),
        "test": _bool,
    },
    "model": {"name": _str(), "preset": _str(optional=True)},
    "data": {
        "kind": _choice("caffe", "stack", "demo"),
        "root": _path(),
        "patch_size": _int(8),
        "context_size": _int(8, optional=True),
        "batch_size": _int(1),
        "val_batch_size": _int(1),
        "num_workers": _int(0),
        "samples_per_image": _int(1),
        "normalization": _choice("dataset", "per_window"),
        "split": _choice(None, "image", "glacier", "random", "named"),
        "val_fraction": _num(0.0, 0.99),
        "val_glaciers": _glaciers,
        "test_glaciers": _glaciers,
        "thin_fronts": _bool,
        "stacks": _str_list(optional=True),
        "fractions": _num_list(3),
        "val_tiles": _str_list(),
        "test_tiles": _str_list(),
        "variables": _str_list(),
        "label": _str(),
        "time_steps": _int(1, optional=True),
        "sources": _sources,
        "bands": _str_list(optional=True),
        "val_windows": _int(1),
        "n_glaciers": _int(2),
        "years": _num(0.0, strict_lo=True),
        "size": _int(32),
        "pixel_size": _num(0.0, strict_lo=True),
        "world_seed": _int(0),
        "resample_factors": _num_list(optional=True),
        "resample_mode": _choice("all", "cycle"),
    },
    "loss": {
        "kind": _choice("ce_dice", "ce", "dice", "focal", "focal_dice"),
        "ce_weight": _num(0.0),
        "dice_weight": _num(0.0),
        "label_smoothing": _num(0.0, 0.99),
        "gamma": _num(0.0),
        "class_weights": _num_list(optional=True),
        "ignore_index": _int(),
        "dice_smooth": _num(0.0),
        "target_weight": _num(0.0),
        "context_weight": _num(0.0),
        "front_weight": _num(0.0),
        "front_pos_weight": _num(0.0, strict_lo=True),
        "aux_weight": _num(0.0, optional=True),
    },
    "optimizer": {
        "name": _choice("sgd", "adam", "adamw"),
        "lr": _num(0.0, strict_lo=True),
        "momentum": _num(0.0, 1.0),
        "weight_decay": _num(0.0),
        "nesterov": _bool,
        "betas": _num_list(2),
    },
    "scheduler": {
        "name": _choice("none", "cosine_restarts", "cosine", "plateau", "cyclic", "onecycle"),
        "restarts": _num_list(),
        "eta_min_ratio": _num(0.0, 0.99),
        "factor": _num(0.0, 1.0, strict_lo=True),
        "patience": _int(0),
        "monitor": _str(),
        "mode": _choice("auto", "min", "max"),
        "base_lr": _num(0.0, strict_lo=True, optional=True),
        "max_lr": _num(0.0, strict_lo=True, optional=True),
        "step_size_up": _int(1, optional=True),
        "cyclic_mode": _choice("triangular", "triangular2", "exp_range"),
        "pct_start": _num(0.0, 1.0, strict_lo=True),
    },
    "validation": {
        "window": _int(8, optional=True),
        "keep": _int(1, optional=True),
        "overlap": _num(0.0, 0.95),
        "weighting": _choice("uniform", "gaussian"),
        "batch_size": _int(1),
        "resolution_m": _resolution,
        "min_cluster_px": _num(0.0, optional=True),
    },
    "trainer": {
        "max_epochs": _int(1),
        "accelerator": _str(),
        "devices": _int_or_str,
        "strategy": _str(),
        "num_nodes": _int(1),
        "precision": _choice("auto", "32-true", "32", "bf16-mixed", "16-mixed", "64-true"),
        "deterministic": _deterministic,
        "num_sanity_val_steps": _int(-1),
        "log_every_n_steps": _int(1),
        "limit_train_batches": _limit,
        "limit_val_batches": _limit,
        "check_val_every_n_epoch": _int(1),
        "gradient_clip_val": _num(0.0, strict_lo=True, optional=True),
        "accumulate_grad_batches": _int(1),
        "enable_progress_bar": _bool,
        "num_threads": _int(1, optional=True),
    },
    "checkpoint": {
        "monitor": _str(),
        "mode": _choice("auto", "min", "max"),
        "save_top_k": _int(-1),
    },
    "init": {"model": _path(), "encoder": _path(), "stem": _choice("mean", "sum")},
}


# --------------------------------------------------------------------------- loading


def _packaged_configs() -> dict[str, str]:
    """``{name: "train" | "pretrain"}`` of every YAML in ``workbench/configs``.

    Pretraining configs are those with a top-level ``method`` key.
    """
    folder = resources.files("workbench") / "configs"
    out = {}
    for p in folder.iterdir():
        if p.name.endswith(".yaml"):
            pretrain = re.search(r"^method\s*:", p.read_text(), flags=re.M) is not None
            out[p.name.removesuffix(".yaml")] = "pretrain" if pretrain else "train"
    return out


def list_configs() -> list[str]:
    """Names of the training configs shipped in ``workbench/configs`` (without ``.yaml``).

    Pretraining configs are listed by :func:`workbench.training.pretrain.list_pretrain_configs`.
    """
    return sorted(name for name, kind in _packaged_configs().items() if kind == "train")


def config_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A config file: an existing path, or the name of a packaged config.

    Raises
    ------
    ConfigError
        Neither a file nor a packaged config (the message lists the packaged ones).
    """
    p = Path(name_or_path)
    if p.is_file():
        return p
    name = p.name.removesuffix(".yaml")
    packaged = resources.files("workbench") / "configs" / f"{name}.yaml"
    if str(name_or_path) == name or str(name_or_path) == f"{name}.yaml":
        if packaged.is_file():
            return Path(str(packaged))
    raise ConfigError(
        "is neither a config file nor a packaged config",
        path=p,
        expected=f"a YAML file or one of {list_configs()}",
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = _yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"is not valid YAML ({exc})", path=path) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"holds a {type(data).__name__}",
            path=path,
            expected="a mapping of sections (model, data, loss, …)",
        )
    return dict(data)


def _merge(base: dict[str, Any], update: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in update.items():
        path = f"{where}.{key}" if where else str(key)
        if (
            isinstance(out.get(key), dict)
            and isinstance(value, Mapping)
            and tuple(path.split(".")) not in _FREE
        ):
            out[key] = _merge(out[key], value, path)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(
            f"override {item!r} has no '='",
            variable="overrides",
            expected="KEY=VALUE with a dotted key, e.g. trainer.max_epochs=3",
        )
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"override {item!r} has an empty key",
            variable="overrides",
            expected="KEY=VALUE with a dotted key, e.g. optimizer.lr=0.001",
        )
    try:
        value = _yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML: ``3``, ``null``, ``[1, 2]``).

    Examples
    --------
    >>> apply_overrides({"optimizer": {"lr": 0.01}}, ["optimizer.lr=1e-3", "model.kwargs.channels=[4, 8]"])
    {'optimizer': {'lr': 0.001}, 'model': {'kwargs': {'channels': [4, 8]}}}
    """
    out = copy.deepcopy(dict(config))
    for item in overrides:
        keys, value = _parse_override(item)
        node = out
        for i, k in enumerate(keys[:-1]):
            nxt = node.get(k)
            if nxt is None or isinstance(nxt, str) and i == 0 and k == "data":
                nxt = {} if nxt is None else _data_shorthand(nxt)
                node[k] = nxt
            if not isinstance(nxt, dict):
                raise ConfigError(
                    f"cannot set {'.'.join(keys)}: {'.'.join(keys[: i + 1])} is {nxt!r}",
                    variable=".".join(keys),
                    expected="a mapping there",
                )
            node = nxt
        node[keys[-1]] = value
    return out


def _data_shorthand(data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, (str, os.PathLike)):
        if str(data) == "demo":
            return {"kind": "demo"}
        p = Path(data)
        if (p / "manifest.json").is_file():
            return {"kind": "demo", "root": str(p)}
        if (p / "sar_images").is_dir() or any(p.glob("*/sar_images")):
            return {"kind": "caffe", "root": str(p)}
        if p.exists():
            return {"kind": "stack", "root": str(p)}
        raise ConfigError(
            "is neither 'demo' nor an existing folder",
            path=p,
            variable="data",
            expected="'demo', a demo world, a CaFFe folder or scene stacks",
        )
    raise ConfigError(
        f"is a {type(data).__name__}", variable="data", expected="a mapping, 'demo' or a path"
    )


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``config`` with :data:`DEFAULTS` and check every option; return the full config.

    Raises
    ------
    ConfigError
        Naming the offending key (``section.key``) and what it expects: unknown sections or
        options, wrong types or ranges, inconsistent combinations.
    """
    config = dict(config)
    if "method" in config and "method" not in DEFAULTS:
        raise ConfigError(
            f"is {config['method']!r}: this is a pretraining config",
            variable="method",
            expected="`workbench pretrain CONFIG` (or "
            "workbench.training.pretrain) for it, not `workbench train`",
        )
    if "data" in config:
        config["data"] = _data_shorthand(config["data"])
    cfg = check_sections(
        config, DEFAULTS, _CHECKS, kwargs_expected="a mapping of model constructor arguments"
    )
    cfg["augment"] = {k: v for k, v in (cfg["augment"] or {}).items()}
    validate_augment_config(cfg["augment"])
    _check_combinations(cfg)
    return cfg


def check_sections(
    config: Mapping[str, Any],
    defaults: Mapping[str, Any],
    checks: Mapping[str, Mapping[str, Callable[[Any], str | None]]],
    *,
    kwargs_expected: str,
) -> dict[str, Any]:
    """Merge a config with its ``defaults`` and run the per-option ``checks`` (section ``""``
    is the top level): the shared core of :func:`validate_config` and the pretraining
    config's validation.

    Raises
    ------
    ConfigError
        An unknown section or option, a section that is not a mapping, an option its check
        rejects (the message names ``section.key`` and what the check expects), or a
        ``model.kwargs`` that is not a mapping (``kwargs_expected`` says what it should be).

    Examples
    --------
    >>> check_sections({"seed": 1}, {"seed": 0, "model": {"kwargs": {}}}, {"": {"seed": _int(0)}},
    ...                kwargs_expected="a mapping")["seed"]
    1
    """
    for key in config:
        if key not in defaults:
            raise ConfigError(
                "is not a known section", variable=str(key), expected=f"one of {sorted(defaults)}"
            )
        if (
            isinstance(defaults[key], dict)
            and config[key] is not None
            and not isinstance(config[key], Mapping)
        ):
            raise ConfigError(
                f"is {config[key]!r}", variable=str(key), expected="a mapping of options"
            )
    cfg = _merge(
        defaults,
        {k: v for k, v in config.items() if v is not None or not isinstance(defaults[k], dict)},
    )
    for section, section_checks in checks.items():
        node = cfg if section == "" else cfg[section]
        allowed = set(section_checks) | ({"kwargs"} if section == "model" else set())
        if section == "":
            allowed |= {k for k, v in defaults.items() if isinstance(v, dict)}
        for key in node:
            if key not in allowed:
                raise ConfigError(
                    "is not a known option",
                    variable=f"{section}.{key}".lstrip("."),
                    expected=f"one of {sorted(allowed)}",
                )
        for key, check in section_checks.items():
            problem = check(node.get(key))
            if problem:
                raise ConfigError(
                    f"is {node.get(key)!r}",
                    variable=f"{section}.{key}".lstrip("."),
                    expected=problem,
                )
    if "model" in cfg and not isinstance(cfg["model"].get("kwargs", {}), Mapping):
        raise ConfigError(
            f"is {cfg['model']['kwargs']!r}", variable="model.kwargs", expected=kwargs_expected
        )
    return cfg


def _check_combinations(cfg: dict[str, Any]) -> None:
    from workbench.models import list_models, list_presets

    model = cfg["model"]["name"]
    if model not in list_models():
        raise ConfigError(
            f"is {model!r}", variable="model.name", expected=f"one of {list_models()}"
        )
    if cfg["model"]["preset"] is not None and cfg["model"]["preset"] not in list_presets(model):
        raise ConfigError(
            f"is {cfg['model']['preset']!r}",
            variable="model.preset",
            expected=f"one of {list_presets(model)} or null",
        )
    task, data = cfg["task"], cfg["data"]
    if task == "zones" and model in ("icemapper3d", "convlstm_unet", "glavitu"):
        raise ConfigError(
            f"{model!r} is a glacier-outline model",
            variable="task",
            expected="task: outlines for it (zones: caffe_unet, ssl4sar_hybrid)",
        )
    if task == "outlines" and model in ("caffe_unet", "ssl4sar_hybrid", "swinv2"):
        raise ConfigError(
            f"{model!r} is a zone model",
            variable="task",
            expected="task: zones for it (outlines: icemapper3d, convlstm_unet, glavitu)",
        )
    if model == "glavitu" and not data["sources"]:
        raise ConfigError(
            "is not set for glavitu",
            variable="data.sources",
            expected="{source: [variables]}, e.g. {optical: [optical], dem: [dem, slope]}",
        )
    if cfg["init"]["model"] is not None and cfg["init"]["encoder"] is not None:
        raise ConfigError(
            "and init.encoder are both set",
            variable="init.model",
            expected="one of them: a whole model (init.model) or an encoder",
        )
    if cfg["init"]["encoder"] is not None and model != "ssl4sar_hybrid":
        raise ConfigError(
            f"is set for {model!r}",
            variable="init.encoder",
            expected="null (a pretrained Swin V2 encoder initialises ssl4sar_hybrid)",
        )
    if (
        data["kind"] == "caffe"
        and data["val_fraction"] == 0
        and data["split"] != "glacier"
        and cfg["checkpoint"]["monitor"] != "last"
    ):
        raise ConfigError(
            "is 0 (the training images are also validated) but "
            f"checkpoint.monitor is {cfg['checkpoint']['monitor']!r}",
            variable="data.val_fraction",
            expected="checkpoint.monitor: last with it (nothing to select on), or a fraction > 0",
        )
    if data["sources"] and data["normalization"] != "dataset":
        raise ConfigError(
            f"is {data['normalization']!r} with data.sources",
            variable="data.normalization",
            expected="'dataset' for multi-source inputs",
        )
    if model != "glavitu" and data["sources"]:
        raise ConfigError(
            f"is set for {model!r}",
            variable="data.sources",
            expected="null (multi-source inputs are for glavitu)",
        )
    if data["kind"] == "caffe":
        if task != "zones":
            raise ConfigError(
                "is 'caffe' for the outline task",
                variable="data.kind",
                expected="'stack' or 'demo' for task: outlines",
            )
        if data["root"] is None:
            raise ConfigError("is not set", variable="data.root", expected="a CaFFe-layout folder")
        if data["split"] not in (None, "image", "glacier"):
            raise ConfigError(
                f"is {data['split']!r}",
                variable="data.split",
                expected="'image' or 'glacier' for CaFFe folders",
            )
    if data["kind"] == "stack":
        if task != "outlines":
            raise ConfigError(
                "is 'stack' for the zone task",
                variable="data.kind",
                expected="'caffe' or 'demo' for task: zones",
            )
        if data["root"] is None and not data["stacks"]:
            raise ConfigError(
                "are not set",
                variable="data.stacks",
                expected="a list of stack paths (or data.root, a folder of stacks)",
            )
        if data["split"] not in (None, "random", "named"):
            raise ConfigError(
                f"is {data['split']!r}",
                variable="data.split",
                expected="'random' or 'named' for stacks",
            )
    if data["context_size"] is not None and task != "zones":
        raise ConfigError(
            "is set for the outline task",
            variable="data.context_size",
            expected="null (target/context patches are for zones)",
        )
    v = cfg["validation"]
    if v["resolution_m"] is None and v["min_cluster_px"] is None and task == "zones":
        raise ConfigError(
            "is null but validation.min_cluster_px is not set",
            variable="validation.resolution_m",
            expected="'meta', a pixel size, or validation.min_cluster_px",
        )
    if v["keep"] is not None and v["window"] is not None and v["keep"] > v["window"]:
        raise ConfigError(
            f"is {v['keep']} > validation.window {v['window']}",
            variable="validation.keep",
            expected="≤ validation.window",
        )
    restarts = cfg["scheduler"]["restarts"]
    if (
        not restarts
        or any(int(r) != r or r <= 0 for r in restarts)
        or any(b <= a for a, b in zip(restarts, restarts[1:], strict=False))
    ):
        raise ConfigError(
            f"is {restarts}",
            variable="scheduler.restarts",
            expected="strictly increasing positive epochs, e.g. [10, 30, 70, 150]",
        )
    if (
        cfg["loss"]["kind"] in ("ce_dice", "focal_dice")
        and cfg["loss"]["ce_weight"] + cfg["loss"]["dice_weight"] <= 0
    ):
        raise ConfigError(
            "ce_weight + dice_weight is 0",
            variable="loss.ce_weight",
            expected="a positive sum of the two weights",
        )


def load_config(
    config: str | os.PathLike[str] | Mapping[str, Any], overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Read (a file, a packaged config name, or a mapping), override, validate, fill defaults.

    Parameters
    ----------
    config
        A YAML path, the name of a packaged config (:func:`list_configs`), or a mapping.
    overrides
        ``"section.key=value"`` strings applied before validation.

    Returns
    -------
    dict
        The complete configuration (every option present). ``name`` defaults to the config
        file's stem (or ``<model>_<task>`` for a mapping).
    """
    if isinstance(config, Mapping):
        raw, stem = dict(config), None
    else:
        path = config_path(config)
        raw, stem = _read_yaml(path), path.stem
    raw = apply_overrides(raw, list(overrides))
    cfg = validate_config(raw)
    if not cfg["name"]:
        cfg["name"] = stem or f"{cfg['model']['name']}_{cfg['task']}"
    return cfg


def dump_config(config: Mapping[str, Any]) -> str:
    """The configuration as YAML text (sections in the order of :data:`DEFAULTS`)."""
    ordered = {k: config[k] for k in DEFAULTS if k in config}
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)
