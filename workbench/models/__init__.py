"""Model zoo: one registry, one checkpoint format.

Every model is built by name from a preset (``"published"``: the paper's configuration,
``"small"``: tests and CPU demos), remembers its arguments, and saves to / loads from one
checkpoint format. Segmentation models return a :class:`SegmentationOutput` (``.logits``).

Examples
--------
>>> import torch
>>> from workbench.models import create_model, list_models
>>> list_models()
['caffe_unet', 'convlstm_unet', 'glavitu', 'icemapper3d', 'ssl4sar_hybrid', 'swinv2']
>>> model = create_model("caffe_unet", preset="small").eval()
>>> tuple(model(torch.zeros(1, 1, 32, 32)).logits.shape)
(1, 4, 32, 32)
"""

from workbench.models.base import ModelInputError, SegmentationOutput, WorkbenchModel
from workbench.models.caffe_unet import CaFFeUNet
from workbench.models.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CheckpointInfo,
    load_model,
    load_weights_into,
    read_checkpoint_info,
    save_checkpoint,
)
from workbench.models.convlstm_unet import ConvLSTMUNet
from workbench.models.encoder_weights import load_encoder_weights
from workbench.models.glavitu import GlaViTU
from workbench.models.icemapper3d import IceMapper3D
from workbench.models.registry import (
    count_parameters,
    create_model,
    get_model_class,
    list_models,
    list_presets,
    parameter_rows,
    parameter_table,
    register_model,
)
from workbench.models.ssl4sar_hybrid import SSL4SARHybrid
from workbench.models.swinv2 import (
    SwinV2Encoder,
    adapt_stem,
    convert_hf_swinv2_state_dict,
    convert_timm_swinv2_state_dict,
    load_pretrained_swinv2,
)

__all__ = [
    "WorkbenchModel",
    "SegmentationOutput",
    "ModelInputError",
    "create_model",
    "get_model_class",
    "list_models",
    "list_presets",
    "register_model",
    "count_parameters",
    "parameter_rows",
    "parameter_table",
    "SwinV2Encoder",
    "adapt_stem",
    "convert_hf_swinv2_state_dict",
    "convert_timm_swinv2_state_dict",
    "load_pretrained_swinv2",
    "load_encoder_weights",
    "SSL4SARHybrid",
    "CaFFeUNet",
    "IceMapper3D",
    "ConvLSTMUNet",
    "GlaViTU",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointInfo",
    "save_checkpoint",
    "load_model",
    "load_weights_into",
    "read_checkpoint_info",
]
