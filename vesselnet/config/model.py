"""Which network a run trains: the architectures, their options and their size arithmetic.

:data:`ARCHITECTURES` names the networks :func:`vesselnet.models.build_model` builds,
:class:`ModelOptions` the options they accept, :func:`geometry` what each takes off a tile
(shrink per block, chained stages) and :func:`model_output_size` the resulting output side,
all without building a model. :class:`ModelConfig` is the ``[model]`` section of a run.
"""

from __future__ import annotations

import dataclasses

from vesselnet.core import sizes
from vesselnet.core.activations import OUTPUT_ACTIVATIONS
from vesselnet.core.checks import check_bool, check_int, check_min

ARCHITECTURES = {
    "unet": "U-Net, Ronneberger et al. 2015: two 3x3 convolutions + ReLU per level",
    "resunet": "Residual U-Net: the U-Net skeleton with residual blocks",
    "r2unet": "R2U-Net, Alom et al. 2018: recurrent residual blocks (residual=False: RU-Net)",
    "chained": "Francia et al. 2020: a U-Net whose output feeds a residual U-Net, end to end",
}
STAGE2_INPUTS = ("probabilities", "probabilities_and_image")
DROPOUT_PLACES = ("bottleneck", "all")
_ONLY = {"steps": "r2unet", "residual": "r2unet", "stage2_input": "chained"}


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """Options every architecture accepts, plus the architecture-specific ones.

    Args:
        batch_norm: batch normalisation after each convolution. Defaults to False (the papers).
        dropout: dropout rate. Defaults to 0.
        dropout_at: ``"bottleneck"`` (end of the contracting path, as Ronneberger et al.) or
            ``"all"`` (between the two convolutions of every block). Defaults to
            ``"bottleneck"``.
        output_activation: ``"log_softmax"`` (Francia et al.), ``"softmax"`` or ``"sigmoid"``
            (one channel: pass ``n_classes=1``). Defaults to ``"log_softmax"``.
        steps: recurrent steps ``t`` of R2U-Net. Defaults to 2.
        residual: R2U-Net's residual sums; False gives RU-Net. Defaults to True.
        stage2_input: what feeds stage 2 of the chained model: stage 1's class probabilities,
            or those concatenated with the (cropped) input. Defaults to ``"probabilities"``.

    Example:
        >>> ModelOptions.from_kwargs("r2unet", {"steps": 3}).steps
        3
    """

    batch_norm: bool = False
    dropout: float = 0.0
    dropout_at: str = "bottleneck"
    output_activation: str = "log_softmax"
    steps: int = 2
    residual: bool = True
    stage2_input: str = "probabilities"

    @classmethod
    def from_kwargs(cls, arch: str, options: dict) -> ModelOptions:
        """The checked options of ``arch``; unknown options or ones of another arch raise."""
        names = {field.name for field in dataclasses.fields(cls)}
        for key in options:
            if key not in names:
                raise ValueError(
                    f"unknown model option {key!r}; accepted: {', '.join(sorted(names))}"
                )
            if key in _ONLY and _ONLY[key] != arch:
                raise ValueError(f"option {key!r} applies to {_ONLY[key]!r} only, not {arch!r}")
        result = cls(**options)
        result.check()
        return result

    def check(self) -> None:
        """Raises ``ValueError`` naming the first option with a bad value."""
        check_bool("batch_norm", self.batch_norm)
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a rate in [0, 1), got {self.dropout!r}")
        if self.dropout_at not in DROPOUT_PLACES:
            raise ValueError(f"dropout_at must be one of {DROPOUT_PLACES}, got {self.dropout_at!r}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {OUTPUT_ACTIVATIONS}, "
                f"got {self.output_activation!r}"
            )
        check_int("steps", self.steps, 1)
        check_bool("residual", self.residual)
        if self.stage2_input not in STAGE2_INPUTS:
            raise ValueError(
                f"stage2_input must be one of {STAGE2_INPUTS}, got {self.stage2_input!r}"
            )


def geometry(arch: str, **options) -> tuple[int, int]:
    """``(shrink per block, chained stages)`` of an architecture, for :mod:`sizes` helpers.

    Example:
        >>> geometry("chained"), geometry("r2unet", steps=3)
        ((4, 2), (16, 1))
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if arch == "r2unet":
        return sizes.block_shrink("recurrent", options.get("steps", 2)), 1
    return sizes.block_shrink("plain"), 2 if arch == "chained" else 1


def model_output_size(arch: str, input_size: int, depth: int = 5, padding: str = "valid",
                      **options) -> int:
    """Output side length of ``arch`` for a square input (see :func:`sizes.output_size`).

    Example:
        >>> model_output_size("chained", 380, depth=4)
        204
    """
    shrink, stages = geometry(arch, **options)
    return sizes.output_size(input_size, depth, padding, shrink=shrink, stages=stages)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and build options (see :func:`vesselnet.models.build_model`).

    Args:
        arch: ``"unet"``, ``"resunet"``, ``"r2unet"`` or ``"chained"``. Defaults to "unet".
        filters: channels of the first level, doubling per level. Defaults to 16.
        depth: resolution levels. Defaults to 4.
        padding: ``"valid"`` or ``"same"``. Defaults to "valid".
        n_classes: output maps (1 with a sigmoid output). Defaults to 2.
        options: :class:`ModelOptions` fields, e.g. ``{"batch_norm": True}``. Defaults to {}.
        init_from: a bundle directory or ``.keras`` file whose weights start the network
            (fine-tuning, or carrying a run over to a machine without its checkpoints); the
            architecture must match. Empty: random initialisation. Defaults to "".

    Example:
        >>> ModelConfig(arch="chained", depth=4).output_size(380)
        204
    """

    arch: str = "unet"
    filters: int = 16
    depth: int = 4
    padding: str = "valid"
    n_classes: int = 2
    options: dict = dataclasses.field(default_factory=dict)
    init_from: str = ""

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"model.arch must be one of {list(ARCHITECTURES)}, got {self.arch!r}")
        try:
            ModelOptions.from_kwargs(self.arch, dict(self.options))
        except ValueError as error:
            raise ValueError(f"model.options: {error}") from None
        check_min("model.filters", self.filters, 1)
        check_min("model.depth", self.depth, 1)

    @property
    def output_activation(self) -> str:
        """The network's output activation (what the loss must be told)."""
        return self.options.get("output_activation", ModelOptions.output_activation)

    def output_size(self, input_size: int) -> int:
        """Output side for ``input_size``; ValueError naming the nearest valid sizes."""
        try:
            return model_output_size(self.arch, input_size, self.depth, self.padding,
                                     **self.options)
        except ValueError as error:
            raise ValueError(
                f"patches.input_size {input_size} is not valid for model {self.arch!r} "
                f"(depth {self.depth}, {self.padding} padding): {error}"
            ) from None
