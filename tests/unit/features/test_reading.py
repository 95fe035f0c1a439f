"""Reading features against a brute-force reference written here."""

import torch

from mechscope.core.results import load_result
from mechscope.features import FeatureReading, read_features, site_activations, site_hook
from mechscope.viz import feature_browser
from tests.unit.features.test_sae import random_sae


def test_read_features_matches_a_brute_force_reading(byte_model, tmp_path):
    hook = site_hook(byte_model, "resid_post", 1)
    sae = random_sae(byte_model.cfg.d_model, width=24, k=3)
    texts = ["the quick brown fox jumps", "over the lazy dog, again", "and again and again"]
    windows = byte_model.to_tokens(texts)
    reading = read_features(byte_model, sae, hook, windows, k=4, n_logits=3, n_neighbours=2,
                            batch_size=2, progress=False)  # fmt: skip
    x = site_activations(byte_model, windows, hook, progress=False)
    acts = sae.encode(x).detach()  # token feature, tokens in window order
    assert torch.allclose(reading.density, (acts > 0).float().mean(0))
    keep = windows != 257
    keep[:, 0] = False
    rows, positions = keep.nonzero(as_tuple=True)
    for f in range(24):
        values, index = acts[:, f].topk(4)
        assert torch.allclose(reading.top_values[f], values.clamp_min(0), atol=1e-5)
        fired = values > 0
        assert reading.top_windows[f][fired].tolist() == rows[index][fired].tolist()
        assert reading.top_positions[f][fired].tolist() == positions[index][fired].tolist()
        assert int(reading.histogram[f].sum()) == int((acts[:, f] > 0).sum())
    decoder = sae.W_dec.detach() / sae.W_dec.detach().norm(dim=1, keepdim=True)  # TopK rescales
    logits = decoder @ byte_model.W_U.detach()
    assert reading.promoted is not None and reading.suppressed is not None
    assert reading.promoted.tolist() == logits.topk(3, dim=1).indices.tolist()
    assert reading.suppressed.tolist() == (-logits).topk(3, dim=1).indices.tolist()
    unit = torch.nn.functional.normalize(sae.W_dec.detach(), dim=1)
    sims = unit @ unit.T
    sims.fill_diagonal_(-2)
    assert reading.neighbours[:, 0].tolist() == sims.argmax(1).tolist()
    # the context of a top activation holds the token at its position
    f = int(reading.density.argmax())
    token = int(windows[reading.top_windows[f, 0], reading.top_positions[f, 0]])
    assert [t for t, hit in reading.context(f) if hit] == [reading.text(token)]
    reading.save(tmp_path)
    loaded = load_result(tmp_path)
    assert isinstance(loaded, FeatureReading) and torch.equal(loaded.top_values, reading.top_values)
    page = feature_browser(loaded)
    assert page.count("<tr><td>") == int((reading.density > 0).sum())
