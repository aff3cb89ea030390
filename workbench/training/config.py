"""Training and pretraining configurations: YAML files, dotted ``key=value`` overrides, checks.

A configuration is a nested mapping with these sections (every key optional; the typed
schemas with their defaults are in :mod:`workbench.training.schema`, :data:`DEFAULTS` as a
dict)::

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

OmegaConf does the work: the schema is ``OmegaConf.structured``, the YAML file (read by
``OmegaConf.load``, which refuses a key given twice) and the overrides (values parsed as YAML:
``3``, ``1e-3``, ``null``, ``[4, 8]``, ``{p: 0.5}``) are merged into it, which checks every
type and refuses unknown keys. Its errors become a :class:`~workbench.errors.ConfigError`
naming the file (unless an override set the key), the key's full path and what it expects;
ranges and the rules between options are checked after the merge.

``data: demo`` is short for ``data: {kind: demo}`` (the synthetic world simulated in memory);
``data: PATH`` takes the kind from :func:`workbench.data.kinds.detect_dataset_kind` (a demo
world, a CaFFe folder, or stacks).

Packaged configs (``workbench/configs/*.yaml``) are found by name: ``load_config("demo_zones")``.
Pretraining configs (a top-level ``method``; :func:`load_pretrain_config`,
``workbench pretrain``) are listed by :func:`list_pretrain_configs`, not :func:`list_configs`.

``init.model: CHECKPOINT`` starts training from every weight of a saved or packaged model
(a ``best.pt``, or a name such as ``demo_zones``) and uses its normalisation, for fine-tuning
on a few labelled images of a new glacier; the model name and arguments must match the
checkpoint's (see :func:`workbench.training.fit.build_task`). ``init.encoder: PATH``
initialises the Swin V2 encoder of ``ssl4sar_hybrid`` (:func:`workbench.models.load_encoder_weights`:
an ``encoder.pt`` of ``workbench pretrain``, an ``ssl4sar_hybrid`` checkpoint or published
Swin V2 weights; ``init.stem``: how a 3-channel stem becomes one channel, ``mean`` or ``sum``).

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

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from workbench.data.kinds import detect_dataset_kind
from workbench.errors import ConfigError
from workbench.training.augment import validate_augment_config
from workbench.training.schema import (
    PRETRAIN_METHODS,
    PretrainConfig,
    TrainConfig,
    check_options,
    describe,
    field_type,
)

__all__ = [
    "DEFAULTS",
    "PRETRAIN_DEFAULTS",
    "PRETRAIN_METHODS",
    "PUBLISHED_LR",
    "load_config",
    "load_pretrain_config",
    "apply_overrides",
    "list_configs",
    "list_pretrain_configs",
    "config_path",
    "validate_config",
    "dump_config",
    "dump_pretrain_config",
]

DEFAULTS: dict[str, Any] = OmegaConf.to_container(OmegaConf.structured(TrainConfig))  # type: ignore[assignment]
"""Every training option with its default value (from :class:`~workbench.training.schema.TrainConfig`)."""

PRETRAIN_DEFAULTS: dict[str, Any] = OmegaConf.to_container(OmegaConf.structured(PretrainConfig))  # type: ignore[assignment]
"""Every pretraining option with its default (``optimizer.lr: null`` = :data:`PUBLISHED_LR`)."""

PUBLISHED_LR: dict[str, float] = {"optsimmim": 1e-3, "opttranslator": 5e-3}
"""The published pretraining learning rates (docs/science.md §1.9), used when ``optimizer.lr`` is null."""

_OVERRIDE_FORMAT = "KEY=VALUE with a dotted key, e.g. trainer.max_epochs=3"


# --------------------------------------------------------------------------- files


def _packaged_configs() -> dict[str, str]:
    """``{name: "train" | "pretrain"}`` of every YAML in ``workbench/configs`` (pretraining
    configs have a top-level ``method``)."""
    folder = resources.files("workbench") / "configs"
    return {
        p.name.removesuffix(".yaml"): "pretrain"
        if "method" in OmegaConf.create(p.read_text())
        else "train"
        for p in folder.iterdir()
        if p.name.endswith(".yaml")
    }


def list_configs() -> list[str]:
    """Names of the training configs shipped in ``workbench/configs`` (without ``.yaml``)."""
    return sorted(name for name, kind in _packaged_configs().items() if kind == "train")


def list_pretrain_configs() -> list[str]:
    """Names of the pretraining configs shipped in ``workbench/configs`` (they set ``method``).

    Examples
    --------
    >>> list_pretrain_configs()
    ['demo_pretrain', 'pretrain_optsimmim', 'pretrain_opttranslator']
    """
    return sorted(name for name, kind in _packaged_configs().items() if kind == "pretrain")


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
    if str(name_or_path) in (name, f"{name}.yaml") and packaged.is_file():
        return Path(str(packaged))
    raise ConfigError(
        "is neither a config file nor a packaged config",
        path=p,
        expected=f"a YAML file or one of {list_configs()}",
    )


def _first_duplicate(node: yaml.Node) -> tuple[Any, int, int] | None:
    """``(key, first line, second line)`` of the first key given twice in one mapping."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                return key_node.value, seen[key_node.value], line
            seen[key_node.value] = line
            found = _first_duplicate(value_node)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _first_duplicate(item)
            if found:
                return found
    return None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = OmegaConf.to_container(OmegaConf.load(path))
    except yaml.YAMLError as exc:
        dup = None
        if "duplicate key" in str(exc):
            dup = _first_duplicate(yaml.compose(path.read_text(), Loader=yaml.SafeLoader))
        if dup is not None:
            key, first, second = dup
            raise ConfigError(
                f"has the duplicate key {key!r} on lines {first} and {second} (each key may "
                "appear once per mapping; merge the two)",
                path=path,
            ) from None
        raise ConfigError(f"is not valid YAML ({exc})", path=path) from None
    except (OmegaConfBaseException, OSError, ValueError) as exc:
        raise ConfigError(
            f"is not a mapping ({exc})", path=path, expected="a mapping of sections"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"holds a {type(data).__name__}",
            path=path,
            expected="a mapping of sections (model, data, loss, …)",
        )
    return data


def _raw(config: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, Any], Path | None]:
    if isinstance(config, Mapping):
        return dict(config), None
    path = config_path(config)
    return _read_yaml(path), path


# --------------------------------------------------------------------------- data shorthands


def _data_shorthand(data: Any) -> dict[str, Any]:
    """``data: demo`` / ``data: PATH`` of a training config as a ``data`` section."""
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, (str, os.PathLike)):
        if str(data) == "demo":
            return {"kind": "demo"}
        p = Path(data)
        if not p.exists():
            raise ConfigError(
                "is neither 'demo' nor an existing folder",
                path=p,
                variable="data",
                expected="'demo', a demo world, a CaFFe folder or scene stacks",
            )
        kind = detect_dataset_kind(p).kind
        return {"kind": {"demo_world": "demo", "caffe": "caffe"}.get(kind, "stack"), "root": str(p)}
    raise ConfigError(
        f"is a {type(data).__name__}", variable="data", expected="a mapping, 'demo' or a path"
    )


def _pretrain_data(data: Any) -> dict[str, Any]:
    """``data: demo`` / ``data: PATH`` of a pretraining config (a demo world or stacks)."""
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, (str, os.PathLike)) and str(data) != "demo" and not Path(data).exists():
        raise ConfigError(
            "is neither 'demo' nor an existing path",
            path=Path(data),
            variable="data",
            expected="'demo', a demo world, a folder of stacks or a stack",
        )
    section = _data_shorthand(data)
    if section["kind"] != "demo":
        section["kind"] = "stack"  # pretraining reads stacks with an optical image
    return section


# --------------------------------------------------------------------------- merging


def _field_at(schema: type, keys: Sequence[str]) -> tuple[type, str] | None:
    """``(dataclass, field name)`` of the schema field a key path ends in (or passes through
    into a free-form mapping or list), or ``None`` if the path leaves the schema."""
    owner = schema
    for i, key in enumerate(keys):
        if key not in {f.name for f in fields(owner)}:
            return None
        hint = field_type(owner, key)
        if is_dataclass(hint) and i < len(keys) - 1:
            owner = hint  # type: ignore[assignment]
            continue
        return owner, key
    return None


def _hint_at(schema: type | None, keys: Sequence[str]) -> Any:
    """The type of the schema field at exactly this key path, or ``None``."""
    hint: Any = schema
    for key in keys:
        if not is_dataclass(hint) or key not in {f.name for f in fields(hint)}:
            return None
        hint = field_type(hint, key)
    return hint


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(
            f"override {item!r} has no '='", variable="overrides", expected=_OVERRIDE_FORMAT
        )
    key, raw = item.split("=", 1)
    keys = key.strip().split(".")
    if not all(keys):
        raise ConfigError(
            f"override {item!r} has an empty key",
            variable="overrides",
            expected="KEY=VALUE with a dotted key, e.g. optimizer.lr=0.001",
        )
    try:  # the value as OmegaConf reads a dotlist value (YAML, 1e-3 a float)
        value = OmegaConf.to_container(OmegaConf.from_dotlist([f"v={raw}"]))["v"]  # type: ignore[index]
    except (yaml.YAMLError, OmegaConfBaseException):
        value = raw
    return keys, value


def _set(
    cfg: DictConfig,
    item: str,
    schema: type | None,
    shorthand: Callable[[Any], dict[str, Any]],
) -> None:
    """Apply one override: the key is SET to the value (a mapping replaces the section or
    option, as in the YAML file; the section's other options return to their defaults)."""
    keys, value = _parse_override(item)
    key = ".".join(keys)
    if keys[0] == "data" and (len(keys) == 1 or isinstance(cfg.get("data"), str)):
        if len(keys) == 1:
            value = shorthand(value)
        else:
            cfg["data"] = shorthand(cfg["data"])
    hint = _hint_at(schema, keys)
    if is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"is {value!r}", variable=key, expected="a mapping of options")
        value = OmegaConf.merge(OmegaConf.structured(hint), value)
    node: Any = cfg
    for i, k in enumerate(keys[:-1]):  # plain mappings: say where a path runs into a value
        node = node.get(k) if isinstance(node, DictConfig) else None
        if node is not None and not isinstance(node, DictConfig):
            raise ConfigError(
                f"cannot be set: {'.'.join(keys[: i + 1])} is {node!r}",
                variable=key,
                expected="a mapping there",
            )
    OmegaConf.update(cfg, key, value, merge=False)


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a plain mapping (values parsed as YAML: ``3``,
    ``null``, ``[1, 2]``); no schema, so any key may be set.

    Examples
    --------
    >>> apply_overrides({"optimizer": {"lr": 0.01}}, ["optimizer.lr=1e-3", "model.kwargs.channels=[4, 8]"])
    {'optimizer': {'lr': 0.001}, 'model': {'kwargs': {'channels': [4, 8]}}}
    """
    cfg = OmegaConf.create(dict(config))
    try:
        for item in overrides:
            _set(cfg, item, None, _data_shorthand)
        return OmegaConf.to_container(cfg)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        raise _config_error(exc, None) from None


def _config_error(exc: OmegaConfBaseException, schema: type | None) -> ConfigError:
    """An OmegaConf error as a ConfigError naming the key's path and what it expects."""
    key = str(exc.full_key or exc.key or "")
    keys = re.sub(r"\[\d+\]", "", key).split(".") if key else []
    if isinstance(exc, (ConfigKeyError, ConfigAttributeError)) and keys and schema is not None:
        parent = _hint_at(schema, keys[:-1]) if len(keys) > 1 else schema
        if is_dataclass(parent):
            names = sorted(f.name for f in fields(parent))
            what = "section" if parent is schema else "option"
            return ConfigError(f"is not a known {what}", variable=key, expected=f"one of {names}")
    found = _field_at(schema, keys) if schema is not None and keys else None
    if isinstance(exc, ValidationError) and found is not None:
        owner, name = found
        meta = next(f.metadata for f in fields(owner) if f.name == name)
        return ConfigError(
            f"is {exc.value!r}", variable=key, expected=describe(field_type(owner, name), meta)
        )
    return ConfigError(f"cannot be read ({str(exc.msg).splitlines()[0]})", variable=key or None)


def _resolve(
    schema: type,
    raw: Mapping[str, Any],
    overrides: Sequence[str],
    shorthand: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """``raw`` merged into the structured ``schema``, then the overrides; plain and checked."""
    raw = dict(raw)
    if "data" in raw and raw["data"] is not None:
        raw["data"] = shorthand(raw["data"])
    for f in fields(schema):
        hint = field_type(schema, f.name)
        sectioned = is_dataclass(hint) or hint is dict or getattr(hint, "__origin__", None) is dict
        if sectioned and f.name in raw and raw[f.name] is None:
            del raw[f.name]  # an empty section: its defaults
        elif is_dataclass(hint) and f.name in raw and not isinstance(raw[f.name], Mapping):
            raise ConfigError(
                f"is {raw[f.name]!r}", variable=f.name, expected="a mapping of options"
            )
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(schema), raw)
        for item in overrides:
            _set(cfg, item, schema, shorthand)  # type: ignore[arg-type]
        out: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        raise _config_error(exc, schema) from None
    problem = check_options(out, schema)
    if problem is not None:
        key, value, expected = problem
        raise ConfigError(f"is {value!r}", variable=key, expected=expected)
    return out


def _load(
    config: str | os.PathLike[str] | Mapping[str, Any],
    overrides: Sequence[str],
    check: Callable[[dict[str, Any], Sequence[str]], dict[str, Any]],
) -> dict[str, Any]:
    """Read ``config``, check it; errors name the file unless an override set the key."""
    raw, path = _raw(config)
    try:
        cfg = check(raw, overrides)
    except ConfigError as exc:
        set_keys = [item.split("=", 1)[0].strip() for item in overrides]
        var = exc.variable or ""
        from_override = var == "overrides" or any(
            var == k or var.startswith(k + ".") or k.startswith(var + ".") for k in set_keys
        )
        if path is None or exc.path is not None or from_override:
            raise
        raise ConfigError(
            exc.message, path=path, variable=exc.variable, expected=exc.expected
        ) from None
    if not cfg["name"] and path is not None:
        cfg["name"] = path.stem
    elif not cfg["name"]:
        cfg["name"] = (
            f"pretrain_{cfg['method']}"
            if "method" in cfg
            else f"{cfg['model']['name']}_{cfg['task']}"
        )
    return cfg


# --------------------------------------------------------------------------- training configs


def _check_train(raw: Mapping[str, Any], overrides: Sequence[str] = ()) -> dict[str, Any]:
    if "method" in raw:
        raise ConfigError(
            f"is {raw['method']!r}: this is a pretraining config",
            variable="method",
            expected="`workbench pretrain CONFIG` (or "
            "workbench.training.pretrain) for it, not `workbench train`",
        )
    cfg = _resolve(TrainConfig, raw, overrides, _data_shorthand)
    validate_augment_config(cfg["augment"])
    _check_combinations(cfg)
    return cfg


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``config`` with :data:`DEFAULTS` and check every option; return the full config.

    Raises
    ------
    ConfigError
        Naming the offending key (``section.key``) and what it expects: unknown sections or
        options, wrong types or ranges, inconsistent combinations.
    """
    return _check_train(config)


def load_config(
    config: str | os.PathLike[str] | Mapping[str, Any], overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Read (a file, a packaged config name, or a mapping), override, validate, fill defaults.

    Parameters
    ----------
    config
        A YAML path, the name of a packaged config (:func:`list_configs`), or a mapping.
    overrides
        ``"section.key=value"`` strings applied after the file (before validation).

    Returns
    -------
    dict
        The complete configuration (every option present). ``name`` defaults to the config
        file's stem (or ``<model>_<task>`` for a mapping).
    """
    return _load(config, overrides, _check_train)


def dump_config(config: Mapping[str, Any]) -> str:
    """The configuration as YAML text (sections in the order of :data:`DEFAULTS`, or of
    :data:`PRETRAIN_DEFAULTS` for a pretraining config)."""
    order = PRETRAIN_DEFAULTS if "method" in config else DEFAULTS
    ordered = {k: config[k] for k in order if k in config}
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)


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
        or any(r <= 0 for r in restarts)
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


# --------------------------------------------------------------------------- pretraining configs


def _check_pretrain(raw: Mapping[str, Any], overrides: Sequence[str] = ()) -> dict[str, Any]:
    from workbench.models import list_presets

    if "task" in raw:
        raise ConfigError(
            f"is {raw['task']!r}: this is a training config",
            variable="task",
            expected="a pretraining config (method: optsimmim | opttranslator); "
            "train it with `workbench train`",
        )
    cfg = _resolve(PretrainConfig, raw, overrides, _pretrain_data)
    preset = cfg["model"]["preset"]
    if preset is not None and preset not in list_presets("ssl4sar_hybrid"):
        raise ConfigError(
            f"is {preset!r}",
            variable="model.preset",
            expected=f"one of {list_presets('ssl4sar_hybrid')} or null",
        )
    d = cfg["data"]
    if d["kind"] == "stack" and d["root"] is None and not d["stacks"]:
        raise ConfigError(
            "are not set",
            variable="data.stacks",
            expected="a list of stacks with an optical image (or data.root, a folder)",
        )
    if cfg["optimizer"]["lr"] is None:
        cfg["optimizer"]["lr"] = PUBLISHED_LR[cfg["method"]]
    return cfg


def load_pretrain_config(
    config: str | os.PathLike[str] | Mapping[str, Any], overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Read a pretraining config (file, packaged name or mapping), override, validate.

    Sections: ``name``, ``method`` (``optsimmim`` | ``opttranslator``), ``seed``,
    ``output_dir``, ``model`` (``ssl4sar_hybrid``: ``preset``, ``kwargs``), ``data`` (``kind``
    ``demo`` | ``stack``, ``root``, ``stacks``, ``sar``, ``optical``, ``bands``,
    ``crop_size``, ``min_scale``, ``batch_size``, ``samples_per_image``, ``val_glaciers``,
    ``val_samples``, and the in-memory demo world), ``pretrain`` (``mask_ratio``) and the
    ``optimizer``, ``scheduler``, ``trainer``, ``checkpoint`` sections of training configs
    (:class:`~workbench.training.schema.PretrainConfig`, :data:`PRETRAIN_DEFAULTS`).

    Examples
    --------
    >>> cfg = load_pretrain_config("pretrain_opttranslator")
    >>> cfg["method"], cfg["optimizer"]["lr"], cfg["data"]["crop_size"], cfg["data"]["min_scale"]
    ('opttranslator', 0.005, 512, 0.7)
    >>> load_pretrain_config({"method": "mae"})
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: variable 'method' is 'mae' (expected one of ['optsimmim', 'opttranslator'])
    """
    return _load(config, overrides, _check_pretrain)


def dump_pretrain_config(cfg: Mapping[str, Any]) -> str:
    """The pretraining config as YAML (sections in the order of :data:`PRETRAIN_DEFAULTS`)."""
    return dump_config(cfg)
