"""A small vision transformer with TransformerLens's blocks and hook names.

The architecture is ViT's (Dosovitskiy et al. 2020) at a small scale:

- each ``patch x patch`` square of the image is flattened and mapped linearly to the residual
  stream (``embed``; ``hook_embed`` sees the patch embeddings after the [CLS] vector);
- a learned [CLS] vector takes position 0, the patches follow row by row (patch ``(r, c)``
  at position ``1 + r * n_cols + c``, `mechscope.core.batch.ImageBatch`);
- learned position embeddings (``hook_pos_embed``);
- TransformerLens ``TransformerBlock``s with bidirectional attention, pre-LayerNorm, GELU MLPs,
  so every hook is named as in a text model (``blocks.{l}.attn.hook_pattern``,
  ``blocks.{l}.hook_resid_post``, ``blocks.{l}.attn.hook_z`` ...) and user code written for
  HookedTransformer's hooks runs unchanged;
- a final LayerNorm and a linear classification head (``unembed``, ``W_U`` of
  ``d_model x n_classes``) read at [CLS] only.

``model.cfg`` is the blocks' ``HookedTransformerConfig`` (``n_layers``, ``n_heads``,
``d_head``, ``n_ctx`` = 1 + patches, ``d_vocab`` = classes); ``model.vit_cfg`` the image
side. There is no tokenizer (``model.tokenizer`` is None).
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint
from transformer_lens.utilities import TypedModuleList

from mechscope.core.batch import ImageBatch, ImageError
from mechscope.models.legacy import HookedTransformerConfig, LayerNorm, TransformerBlock, Unembed

VIT_MODEL_CLASS = "HookedViT"
"""The ``model_class`` a ViT checkpoint records (`mechscope.models.checkpoint`)."""


@dataclass(frozen=True, kw_only=True)
class ViTConfig:
    """The shape of a ViT: image, patches, width and depth."""

    image_size: int = 16
    """Side of the (square) input images, in pixels."""
    patch_size: int = 2
    """Side of each square patch, in pixels; it divides image_size."""
    channels: int = 1
    """Colour channels of the input images."""
    n_classes: int = 10
    """Classes the head predicts."""
    d_model: int = 64
    """Residual stream width."""
    n_layers: int = 4
    """Transformer blocks."""
    n_heads: int = 4
    """Attention heads per layer (d_model is divisible by it)."""
    d_mlp: int = 128
    """MLP hidden width."""
    seed: int = 0
    """Seed of the initial weights."""
    class_names: tuple[str, ...] = ()
    """A name per class (empty: the class indices)."""
    qk_norm: bool = False
    """RMS-normalise each head's queries and keys (TransformerLens's ``use_qk_norm``)."""

    def __post_init__(self) -> None:
        problems = []
        if self.patch_size < 1 or self.image_size % self.patch_size:
            problems.append(
                f"patch_size {self.patch_size} does not divide image_size {self.image_size}; "
                "choose a patch size that divides the image side"
            )
        if self.d_model % self.n_heads:
            problems.append(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.class_names and len(self.class_names) != self.n_classes:
            problems.append(f"{len(self.class_names)} class_names for {self.n_classes} classes")
        if min(self.channels, self.n_classes, self.n_layers, self.d_mlp) < 1:
            problems.append("channels, n_classes, n_layers and d_mlp must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def grid(self) -> tuple[int, int]:
        """Patches per column and per row."""
        side = self.image_size // self.patch_size
        return side, side

    @property
    def n_patches(self) -> int:
        """Patches per image."""
        rows, cols = self.grid
        return rows * cols

    @property
    def labels(self) -> list[str]:
        """The class names, or the class indices as text."""
        return list(self.class_names) or [str(i) for i in range(self.n_classes)]

    def blocks_config(self) -> HookedTransformerConfig:
        """The TransformerLens config of the blocks (bidirectional, pre-LN, GELU)."""
        return HookedTransformerConfig(
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_model=self.d_model,
            d_head=self.d_model // self.n_heads,
            d_mlp=self.d_mlp,
            n_ctx=1 + self.n_patches,
            d_vocab=self.n_classes,
            act_fn="gelu",
            normalization_type="LN",
            attention_dir="bidirectional",
            use_qk_norm=self.qk_norm,
            original_architecture="ViT",
            model_name=f"mechscope-vit-{self.n_layers}l",
            seed=self.seed,
            device="cpu",
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ViTConfig":
        """Inverse of `to_json`."""
        return cls(**dict(data, class_names=tuple(data.get("class_names", ()))))


class PatchEmbed(nn.Module):
    """Flatten each patch (channels, then rows, then columns of pixels) and map it linearly."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.patch_size = cfg.patch_size
        d_patch = cfg.channels * cfg.patch_size**2
        self.W_E = nn.Parameter(torch.randn(d_patch, cfg.d_model) / d_patch**0.5)
        self.b_E = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(
        self, pixels: Float[Tensor, "batch channel height width"]
    ) -> Float[Tensor, "batch patch d_model"]:
        """The embedding of every patch, row by row."""
        patches = einops.rearrange(
            pixels, "b c (r p1) (k p2) -> b (r k) (c p1 p2)", p1=self.patch_size, p2=self.patch_size
        )
        return patches @ self.W_E + self.b_E


class HookedViT(HookedRootModule):
    """A ViT classifier with TransformerLens hooks (see the module docstring)."""

    blocks: TypedModuleList[TransformerBlock]
    ln_final: nn.Module
    tokenizer: None
    embed: PatchEmbed

    def __init__(self, vit_cfg: ViTConfig) -> None:
        super().__init__()
        self.vit_cfg = vit_cfg
        self.cfg = vit_cfg.blocks_config()
        self.tokenizer = None
        torch.manual_seed(vit_cfg.seed)
        self.embed = PatchEmbed(vit_cfg)
        self.cls_token = nn.Parameter(torch.randn(vit_cfg.d_model) * 0.02)
        self.W_pos = nn.Parameter(torch.randn(self.cfg.n_ctx, vit_cfg.d_model) * 0.02)
        self.hook_embed = HookPoint()
        self.hook_pos_embed = HookPoint()
        self.blocks = TypedModuleList[TransformerBlock](
            [TransformerBlock(self.cfg, block_index) for block_index in range(self.cfg.n_layers)]
        )
        self.ln_final = LayerNorm(self.cfg)
        self.unembed = Unembed(self.cfg)
        self._init_weights()
        self.setup()

    @torch.no_grad()
    def _init_weights(self) -> None:
        """TransformerLens components start uninitialised: GPT-2's scheme, as HookedTransformer.

        Matrices ~ N(0, initializer_range), biases 0, LayerNorm weights 1.
        """
        std = self.cfg.initializer_range
        for name, param in self.named_parameters():
            if name.startswith(("embed.", "cls_token", "W_pos")):
                continue  # drawn above
            if name.endswith(".w"):  # LayerNorm scale
                param.fill_(1.0)
            elif param.dim() >= 2:
                param.normal_(0.0, std)
            else:
                param.zero_()

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:  # noqa: N802 - TransformerLens's name
        """The classification head's weights (``d_vocab`` = classes)."""
        return self.unembed.W_U

    @property
    def b_U(self) -> Float[Tensor, " d_vocab"]:  # noqa: N802 - TransformerLens's name
        """The classification head's bias."""
        return self.unembed.b_U

    def check_images(
        self, images: "Tensor | ImageBatch"
    ) -> Float[Tensor, "batch channel height width"]:
        """The pixels of ``images``, checked against the model's image size and channels.

        Raises:
            ImageError: not 4-D, the wrong channels or size, or another patch size.
        """
        cfg = self.vit_cfg
        if isinstance(images, ImageBatch):
            if images.patch_size != cfg.patch_size:
                raise ImageError(
                    f"the batch is cut into {images.patch_size}-pixel patches but the model "
                    f"uses {cfg.patch_size}; build it with patch_size={cfg.patch_size}."
                )
            pixels = images.pixels
        else:
            pixels = images
        if pixels.ndim == 3 and cfg.channels == 1:
            pixels = pixels[:, None]
        if pixels.ndim != 4:
            raise ImageError(
                f"images must be shaped (batch, {cfg.channels}, {cfg.image_size}, "
                f"{cfg.image_size}), got {tuple(pixels.shape)}."
            )
        if pixels.shape[1] != cfg.channels:
            raise ImageError(
                f"images have {pixels.shape[1]} channels but the model takes {cfg.channels}; "
                f"convert them to {cfg.channels} channel(s) first."
            )
        if tuple(pixels.shape[-2:]) != (cfg.image_size, cfg.image_size):
            raise ImageError(
                f"images are {pixels.shape[-2]}x{pixels.shape[-1]} pixels but the model takes "
                f"{cfg.image_size}x{cfg.image_size}; resize them first."
            )
        return pixels.to(self.W_pos.device, self.W_pos.dtype)

    def residual_start(self, images: "Tensor | ImageBatch") -> Float[Tensor, "batch pos d_model"]:
        """[CLS] and patch embeddings plus position embeddings: ``blocks.0.hook_resid_pre``."""
        pixels = self.check_images(images)
        patches = self.embed(pixels)
        cls = einops.repeat(self.cls_token, "d -> b 1 d", b=pixels.shape[0])
        tokens = self.hook_embed(torch.cat([cls, patches], dim=1))
        positions = self.hook_pos_embed(
            einops.repeat(self.W_pos, "p d -> b p d", b=pixels.shape[0])
        )
        return tokens + positions

    def classify(self, resid: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch d_vocab"]:
        """Class logits read from [CLS] (position 0) of a residual stream."""
        return self.unembed(self.ln_final(resid[:, :1]))[:, 0]

    def image_batch(self, images: "Tensor | ImageBatch") -> ImageBatch:
        """``images`` checked (`check_images`) and cut into this model's patches."""
        return ImageBatch(self.check_images(images), self.vit_cfg.patch_size)

    def classify_from(
        self, resid: Float[Tensor, "batch pos d_model"], start_at_layer: int
    ) -> Float[Tensor, "batch d_vocab"]:
        """Class logits from the stream entering block ``start_at_layer``.

        As TransformerLens's ``start_at_layer``: the blocks from there on, then the head;
        hooks on them fire.
        """
        for block in self.blocks[start_at_layer:]:
            resid = block(resid)
        return self.classify(resid)

    def forward(
        self,
        images: "Tensor | ImageBatch",
        return_type: Literal["logits", "loss", "both"] | None = "logits",
        labels: Int[Tensor, " batch"] | Float[Tensor, "batch d_vocab"] | None = None,
        stop_at_layer: int | None = None,
        start_at_layer: int | None = None,
    ) -> Any:  # noqa: ANN401 - as TransformerLens: the return follows return_type
        """Class logits (``batch d_vocab``), or what ``return_type`` asks for.

        ``"loss"``: the cross-entropy against ``labels`` (class indices, or class
        probabilities such as CutMix's mixed targets); ``"both"``: (logits, loss);
        ``None``: nothing; ``stop_at_layer``: the residual stream entering that block.
        ``start_at_layer``: as TransformerLens's, ``images`` is then the residual stream
        entering that block (``batch pos d_model``) and the pass runs the blocks from there.
        """
        if start_at_layer is None:
            resid = self.residual_start(images)
        elif isinstance(images, Tensor) and images.ndim == 3:
            resid = images
        else:
            raise ValueError("start_at_layer takes the residual stream (batch pos d_model)")
        for block in self.blocks[start_at_layer or 0 : stop_at_layer]:
            resid = block(resid)
        if stop_at_layer is not None or return_type is None:
            return resid if stop_at_layer is not None else None
        logits = self.classify(resid)
        if return_type == "logits":
            return logits
        if labels is None:
            raise ValueError("return_type='loss' needs labels")
        loss = nn.functional.cross_entropy(logits, labels.to(logits.device))
        return loss if return_type == "loss" else (logits, loss)

    def to(self, *args: Any, print_details: bool = False, **kwargs: Any) -> "HookedViT":  # noqa: ANN401, ARG002 # pyright: ignore[reportIncompatibleMethodOverride]
        """`nn.Module.to` (``print_details`` accepted for TransformerLens's signature)."""
        moved = super().to(*args, **kwargs)
        self.cfg.device = str(self.W_pos.device)
        return moved
