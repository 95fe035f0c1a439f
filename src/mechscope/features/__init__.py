"""Features: sparse autoencoders (through SAELens) trained, evaluated and edited in the model.

- `sites`: where an SAE reads (`SaeSite`, `site_hook`);
- `activations`: activations at a site over windows of text (`site_activations`) and the
  shuffled batches a trainer reads (`shuffled_batches`);
- `sae`: architectures (`Architecture`), the recipe (`SaeRecipe`), a fresh training SAE
  (`training_sae`) and loading any SAELens-format SAE (`load_sae`);
- `train`: one SAE at one site, checkpointed and resumable (`train_sae`);
- `evaluate`: explained variance, L0, dead and dense features, and the loss with the SAE
  spliced in (`evaluate_sae`, `SaeEvaluation`);
- `splicing`: the SAE in the model, with features ablated, clamped or added (`splice`,
  `FeatureEdit`);
- `steering`: the next token and a greedy continuation with features added (`steer`);
- `reading`: what each feature fires on and writes (`read_features`, `FeatureReading`);
- `transcoders`: sparse maps from an MLP's input to its output (`train_transcoder`,
  `splice_transcoder`).

Names are imported on first use, so importing this package stays instant (SAELens itself
takes seconds to import, and only the functions that need it do).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.features.activations import shuffled_batches, site_activations
    from mechscope.features.config import Architecture, SaeRecipe, SaeSite
    from mechscope.features.evaluate import LOSSES, SaeEvaluation, evaluate_sae
    from mechscope.features.reading import FeatureReading, read_features
    from mechscope.features.sae import load_sae, sae_hook, training_sae
    from mechscope.features.sites import site_hook, site_width
    from mechscope.features.splicing import (
        EditKind,
        FeatureEdit,
        ablate_features,
        add_features,
        check_sae_fits,
        clamp_features,
        splice,
        splice_activation,
    )
    from mechscope.features.steering import Steering, steer
    from mechscope.features.train import TrainedSae, fit_sae, train_sae
    from mechscope.features.transcoders import (
        TrainedTranscoder,
        TranscoderEvaluation,
        evaluate_transcoder,
        fit_transcoder,
        mlp_activations,
        mlp_hooks,
        splice_transcoder,
        train_transcoder,
    )

_EXPORTS = {
    "shuffled_batches": "mechscope.features.activations",
    "site_activations": "mechscope.features.activations",
    "LOSSES": "mechscope.features.evaluate",
    "SaeEvaluation": "mechscope.features.evaluate",
    "evaluate_sae": "mechscope.features.evaluate",
    "FeatureReading": "mechscope.features.reading",
    "read_features": "mechscope.features.reading",
    "Architecture": "mechscope.features.config",
    "SaeRecipe": "mechscope.features.config",
    "load_sae": "mechscope.features.sae",
    "sae_hook": "mechscope.features.sae",
    "training_sae": "mechscope.features.sae",
    "SaeSite": "mechscope.features.config",
    "site_hook": "mechscope.features.sites",
    "site_width": "mechscope.features.sites",
    "Steering": "mechscope.features.steering",
    "steer": "mechscope.features.steering",
    "EditKind": "mechscope.features.splicing",
    "FeatureEdit": "mechscope.features.splicing",
    "ablate_features": "mechscope.features.splicing",
    "add_features": "mechscope.features.splicing",
    "check_sae_fits": "mechscope.features.splicing",
    "clamp_features": "mechscope.features.splicing",
    "splice": "mechscope.features.splicing",
    "splice_activation": "mechscope.features.splicing",
    "TrainedSae": "mechscope.features.train",
    "train_sae": "mechscope.features.train",
    "fit_sae": "mechscope.features.train",
    "TrainedTranscoder": "mechscope.features.transcoders",
    "TranscoderEvaluation": "mechscope.features.transcoders",
    "evaluate_transcoder": "mechscope.features.transcoders",
    "fit_transcoder": "mechscope.features.transcoders",
    "mlp_activations": "mechscope.features.transcoders",
    "mlp_hooks": "mechscope.features.transcoders",
    "splice_transcoder": "mechscope.features.transcoders",
    "train_transcoder": "mechscope.features.transcoders",
}

__all__ = [
    "Steering",
    "steer",
    "TrainedTranscoder",
    "TranscoderEvaluation",
    "evaluate_transcoder",
    "fit_transcoder",
    "mlp_activations",
    "mlp_hooks",
    "splice_transcoder",
    "train_transcoder",
    "FeatureReading",
    "read_features",
    "Architecture",
    "EditKind",
    "FeatureEdit",
    "LOSSES",
    "SaeEvaluation",
    "SaeRecipe",
    "SaeSite",
    "TrainedSae",
    "ablate_features",
    "add_features",
    "check_sae_fits",
    "clamp_features",
    "evaluate_sae",
    "fit_sae",
    "load_sae",
    "sae_hook",
    "shuffled_batches",
    "site_activations",
    "site_hook",
    "site_width",
    "splice",
    "splice_activation",
    "train_sae",
    "training_sae",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)
