"""What every loader shares: the model type, device/dtype policy, and TransformerLens quirks.

Device policy: ``None`` means CUDA when available, else CPU. Dtype policy: ``None`` means
float32, which keeps parity with Hugging Face within 1e-4 on logits.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TypeVar

import torch
from transformer_lens.model_bridge import TransformerBridge

from mechscope.core.errors import MechscopeError
from mechscope.models.legacy import GatedMLP, HookedEncoder, HookedTransformer, Unembed
from mechscope.models.vit import HookedViT

Model = HookedTransformer | HookedEncoder | HookedViT | TransformerBridge
"""A model mechscope analyses: a decoder (HookedTransformer), an encoder (HookedEncoder), a
ViT, or a Hugging Face decoder through TransformerLens's TransformerBridge."""

Decoder = HookedTransformer | TransformerBridge
"""A decoder with an unembedding: either backend (the Bridge in compatibility mode has the
HookedTransformer's hook names and weight views)."""


ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


class DType(Enum):
    """Floating-point types a model can be loaded in (the CLI's ``--dtype`` choices)."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"

    @property
    def torch(self) -> torch.dtype:
        """The matching torch dtype."""
        return getattr(torch, self.value)


class Backend(Enum):
    """How a model is run (the CLI's ``--backend``).

    ``hooked``: TransformerLens's HookedTransformer (its own implementation of each family;
    every analysis, start-at-layer included). ``bridge``: the Hugging Face model itself through
    TransformerLens's TransformerBridge (any architecture Hugging Face has, device maps; see
    `mechscope.models.bridge`).
    """

    HOOKED = "hooked"
    BRIDGE = "bridge"


def resolve_backend(backend: "Backend | str") -> Backend:
    """``backend`` as a `Backend`.

    Raises:
        MechscopeError: a name that is not one.
    """
    if isinstance(backend, Backend):
        return backend
    try:
        return Backend(backend)
    except ValueError:
        names = ", ".join(b.value for b in Backend)
        raise MechscopeError(f"unknown backend {backend!r}; use one of {names}.") from None


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Apply the device policy: ``None`` means CUDA when available, else CPU.

    Raises:
        MechscopeError: a name that is no device, or a device torch cannot use here.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, str) and device in DType._value2member_map_:
        raise MechscopeError(
            f"{device!r} is a dtype, given where the device goes; pass dtype={device!r} "
            "(load_model(spec, device, dtype))."
        )
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise MechscopeError(
            f"{device!r} is not a device torch knows ({error}); use cpu, cuda, cuda:N or mps."
        ) from None
    usable = {
        "cpu": lambda: True,
        "cuda": lambda: (
            torch.cuda.is_available()
            and (resolved.index is None or resolved.index < torch.cuda.device_count())
        ),
        "mps": lambda: torch.backends.mps.is_available(),
    }.get(resolved.type, lambda: False)
    if not usable():
        raise MechscopeError(
            f"torch {torch.__version__} cannot use the device {str(resolved)!r} on this "
            "machine; use --device cpu, or install a torch build for that device."
        )
    return resolved


def resolve_dtype(dtype: torch.dtype | DType | str | None) -> torch.dtype:
    """Apply the dtype policy: ``None`` means float32; a name (``"float16"``) is accepted.

    Raises:
        MechscopeError: a name that is not one of `DType`.
    """
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        if dtype not in DType._value2member_map_:
            names = ", ".join(d.value for d in DType)
            raise MechscopeError(f"unknown dtype {dtype!r}; use one of {names}.")
        return DType(dtype).torch
    if isinstance(dtype, DType):
        return dtype.torch
    return dtype


@contextmanager
def quiet_transformer_lens() -> Iterator[None]:
    """Silence TransformerLens 3.x's deprecation warning and HF's weight-loading bar, locally.

    mechscope pins transformer-lens<4 on purpose; the "deprecated ... removed in 4.0" warning
    tells our users nothing they can act on. Only that warning is filtered, and only inside
    this block; the progress-bar setting is restored on exit.
    """
    from transformers.utils import logging as hf_logging

    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r".*deprecated and will be removed in 4\.0.*",
                category=DeprecationWarning,
            )
            yield
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()


def place(model: "Model", device: torch.device, dtype: torch.dtype) -> "Model":
    """Move a model to ``device`` and ``dtype`` quietly, in eval mode.

    The dtype is set as TransformerLens's ``to(dtype)`` sets it (the config, then
    ``nn.Module.to``) without its loop that rebuilds the whole state dict once per entry and
    discards it: that loop took 4.8 of SmolLM2's 5.7 s cached load here.
    """
    model.to(device, print_details=False)
    if hasattr(model.cfg, "dtype"):
        model.cfg.dtype = dtype
    torch.nn.Module.to(model, dtype)
    return model.eval()


def linear_layout(model: ModuleT) -> ModuleT:
    """Store the weights TransformerLens copies on every forward so that the copy is free.

    TransformerLens 3.9's gated MLP and unembedding call ``F.linear(x, W.T.contiguous())``
    (Hugging Face's memory layout, for bit-equal bfloat16): a copy of every such weight on
    every forward, 14% of a SmolLM2 forward here. Kept as the transpose of a contiguous
    tensor, ``W.T.contiguous()`` returns ``W.T`` itself: the same values, the same matmul, no
    copy. Returns the model, changed in place.
    """
    for module in model.modules():
        names = {GatedMLP: ("W_gate", "W_in", "W_out"), Unembed: ("W_U",)}.get(type(module), ())
        for name in names:
            weight = getattr(module, name)
            if weight.dim() == 2 and not weight.T.is_contiguous():
                relaid = torch.nn.Parameter(weight.detach().T.contiguous().T)
                relaid.requires_grad_(weight.requires_grad)
                setattr(module, name, relaid)
    return model


def is_encoder(model: Model) -> bool:
    """Whether the model is a bidirectional encoder (BERT family)."""
    return isinstance(model, HookedEncoder)


def has_lm_head(model: Model) -> bool:
    """Whether the model's logits mean anything.

    Encoders loaded from a checkpoint without a masked-LM head (such as all-MiniLM-L6-v2, a
    sentence embedder) get NaN unembedding weights, so any use of their logits shows NaN
    instead of silently returning numbers from random weights.
    """
    if isinstance(model, HookedEncoder):
        head_weight = model.mlm_head.W
        assert isinstance(head_weight, torch.Tensor)
        return not (torch.isnan(model.W_U).any() or torch.isnan(head_weight).any())
    return True


def count_parameters(model: Model) -> int:
    """Number of parameters, counting each tensor once."""
    return sum(p.numel() for p in model.parameters())


@contextmanager
def parameters_requiring_grad(model: torch.nn.Module, flag: bool) -> Iterator[None]:
    """Every parameter of ``model`` has ``requires_grad = flag`` inside.

    Each parameter's own flag is restored on exit, even on error.
    """
    flags = [(param, param.requires_grad) for param in model.parameters()]
    try:
        for param, _ in flags:
            param.requires_grad_(flag)
        yield
    finally:
        for param, old in flags:
            param.requires_grad_(old)
