"""Random SAELens transcoders for the attribution-graph tests (no training: exactness tests)."""

import torch


def random_transcoder(d: int, width: int = 24, seed: int = 0, scale: float = 0.3):  # noqa: ANN201
    """A ReLU transcoder of width ``width`` over a stream of width ``d``, every parameter
    drawn from N(0, scale^2) (a fixed seed), in eval mode."""
    import sae_lens

    torch.manual_seed(seed)
    config = sae_lens.TranscoderConfig(d_in=d, d_sae=width, d_out=d, apply_b_dec_to_input=False)
    transcoder = sae_lens.Transcoder(config)
    with torch.no_grad():
        for p in transcoder.parameters():
            p.normal_(0, scale)
    return transcoder.eval()
