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
- `attribution`: each feature's effect on a metric, zeroed or patched from clean prompts into
  corrupted ones (activation x gradient for all, exact for the top ones: `attribute_features`,
  `patch_features`);
- `steering`: the next token and a greedy continuation with features added (`steer`);
- `reading`: what each feature fires on and writes (`read_features`, `FeatureReading`);
- `annotations`: tokens with what we know about them (`LabelledTokens`: token, UPOS,
  relation, entity, coreference, sentiment, genre, position, induction), from treebanks,
  SST-2 and repeated tokens;
- `labels`: each feature's best-aligned annotation with precision, recall and F1 on held-out
  rows against a shuffled control, and its level of abstraction (`label_features`);
- `transcoders`: sparse maps from an MLP's input to its output (`train_transcoder`,
  `train_transcoders`, `splice_transcoder`).

Names are imported on first use, so importing this package stays instant (SAELens itself
takes seconds to import, and only the functions that need it do).
"""

from typing import TYPE_CHECKING

from mechscope.core.lazy import lazy_exports

if TYPE_CHECKING:
    from mechscope.features.activations import (
        SiteReader,
        read_sites,
        real_token_mask,
        shuffled_batches,
        site_activations,
    )
    from mechscope.features.annotations import (
        Abstraction,
        LabelFamily,
        LabelledTokens,
        induction_tokens,
        sentiment_tokens,
        standard_annotations,
        treebank_tokens,
    )
    from mechscope.features.attribution import (
        FeatureAttribution,
        attribute_features,
        patch_features,
    )
    from mechscope.features.config import Architecture, SaeRecipe, SaeSite
    from mechscope.features.evaluate import (
        LOSSES,
        SaeEvaluation,
        evaluate_reconstruction,
        evaluate_sae,
    )
    from mechscope.features.labels import (
        FeatureLabels,
        Firing,
        feature_firing,
        label_features,
        score_labels,
    )
    from mechscope.features.reading import FeatureReading, read_features
    from mechscope.features.sae import load_sae, sae_hook, training_sae, write_directions
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
    from mechscope.features.train import (
        TrainedSae,
        corpus_windows_for,
        fit_sae,
        save_evaluation,
        train_sae,
    )
    from mechscope.features.transcoders import (
        TrainedTranscoder,
        TranscoderEvaluation,
        evaluate_transcoder,
        fit_transcoder,
        load_transcoders,
        mlp_activations,
        mlp_hooks,
        splice_transcoder,
        train_transcoder,
        train_transcoders,
    )

_EXPORTS = {
    "real_token_mask": "mechscope.features.activations",
    "standard_annotations": "mechscope.features.annotations",
    "read_sites": "mechscope.features.activations",
    "SiteReader": "mechscope.features.activations",
    "corpus_windows_for": "mechscope.features.train",
    "save_evaluation": "mechscope.features.train",
    "write_directions": "mechscope.features.sae",
    "FeatureAttribution": "mechscope.features.attribution",
    "attribute_features": "mechscope.features.attribution",
    "patch_features": "mechscope.features.attribution",
    "Abstraction": "mechscope.features.annotations",
    "LabelFamily": "mechscope.features.annotations",
    "LabelledTokens": "mechscope.features.annotations",
    "induction_tokens": "mechscope.features.annotations",
    "sentiment_tokens": "mechscope.features.annotations",
    "treebank_tokens": "mechscope.features.annotations",
    "FeatureLabels": "mechscope.features.labels",
    "Firing": "mechscope.features.labels",
    "feature_firing": "mechscope.features.labels",
    "label_features": "mechscope.features.labels",
    "score_labels": "mechscope.features.labels",
    "evaluate_reconstruction": "mechscope.features.evaluate",
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
    "load_transcoders": "mechscope.features.transcoders",
    "mlp_activations": "mechscope.features.transcoders",
    "mlp_hooks": "mechscope.features.transcoders",
    "splice_transcoder": "mechscope.features.transcoders",
    "train_transcoder": "mechscope.features.transcoders",
    "train_transcoders": "mechscope.features.transcoders",
}

__all__ = [
    "real_token_mask",
    "standard_annotations",
    "read_sites",
    "SiteReader",
    "corpus_windows_for",
    "save_evaluation",
    "write_directions",
    "FeatureAttribution",
    "attribute_features",
    "patch_features",
    "Abstraction",
    "LabelFamily",
    "LabelledTokens",
    "induction_tokens",
    "sentiment_tokens",
    "treebank_tokens",
    "FeatureLabels",
    "Firing",
    "feature_firing",
    "label_features",
    "score_labels",
    "evaluate_reconstruction",
    "Steering",
    "steer",
    "TrainedTranscoder",
    "TranscoderEvaluation",
    "evaluate_transcoder",
    "fit_transcoder",
    "load_transcoders",
    "mlp_activations",
    "mlp_hooks",
    "splice_transcoder",
    "train_transcoder",
    "train_transcoders",
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
