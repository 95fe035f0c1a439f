import time

import pytest
import torch

from mechscope.core.errors import ModelSpecError, ModelUnavailableError
from mechscope.models import (
    SpecKind,
    TinyConfig,
    classify_spec,
    load_model,
    model_spec,
    save_checkpoint,
)


def test_classify_spec(tmp_path, hf_dirs):
    assert classify_spec("minilm") is SpecKind.BUNDLED
    assert classify_spec("gpt2-small") is SpecKind.TL_NAME
    assert classify_spec(hf_dirs["gpt2"]) is SpecKind.HF_DIR
    save_checkpoint(load_model(TinyConfig()), tmp_path / "ckpt")
    assert classify_spec(tmp_path / "ckpt") is SpecKind.CHECKPOINT


def test_missing_path_and_file_paths_are_clear_errors(tmp_path):
    with pytest.raises(ModelSpecError, match="no such directory: ./not-here"):
        load_model("./not-here")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelSpecError, match="is a file; pass the directory"):
        load_model(tmp_path / "weights.bin")


def test_unknown_name_lists_what_a_spec_can_be():
    with pytest.raises(ModelSpecError, match="unknown model 'no-such-model'.*minilm"):
        load_model("no-such-model")


def test_hub_model_fails_fast_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda *a, **k: None)
    start = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as info:
        load_model("gpt2-small")
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert "'gpt2-small'" in message
    assert "download it once with network access" in message
    assert "local directory" in message


def test_hub_unreachable_is_detected_without_offline_flag(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda *a, **k: None)
    with pytest.raises(ModelUnavailableError, match="hub is unreachable"):
        load_model("pythia-70m")


def test_tiny_models_and_device_dtype_policy():
    model = load_model(TinyConfig(n_layers=1), dtype=torch.float64)
    assert model.cfg.n_layers == 1
    assert next(model.parameters()).dtype == torch.float64
    assert next(model.parameters()).device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert not model.training


def test_encoder_tiny_model_is_initialised():
    model = load_model(TinyConfig(encoder=True), device="cpu")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    out = model.encoder_output(torch.tensor([[1, 2, 3, 4]]))
    assert 0.5 < out.std().item() < 2.0  # LayerNorm output of finite, non-degenerate weights


def test_path_objects_and_strings_load_the_same(hf_dirs):
    a = load_model(hf_dirs["gpt2"], device="cpu")
    b = load_model(str(hf_dirs["gpt2"]), device="cpu")
    assert model_spec(a) == model_spec(b) == str(hf_dirs["gpt2"])  # both record the same spec
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_non_finite_weights_are_refused_naming_the_parameter(tmp_path):
    from mechscope.models.checkpoint import save_checkpoint

    model = load_model(TinyConfig(n_layers=1, n_heads=2, d_model=16, d_vocab=32, n_ctx=8))
    with torch.no_grad():
        model.blocks[0].attn.W_Q[0, 0, 0] = float("nan")
    save_checkpoint(model, tmp_path / "broken")
    with pytest.raises(ModelSpecError, match=r"1 weights of blocks.0.attn.W_Q are NaN"):
        load_model(tmp_path / "broken", device="cpu")
    with torch.no_grad():  # finite weights whose sum overflows float32: no false alarm
        model.blocks[0].attn.W_Q.fill_(3e38)
    save_checkpoint(model, tmp_path / "large")
    large = load_model(tmp_path / "large", device="cpu").blocks[0].attn.W_Q
    assert torch.equal(large, model.blocks[0].attn.W_Q)
    with torch.no_grad():
        model.blocks[0].attn.W_Q[0, 1, 0] = float("-inf")
    save_checkpoint(model, tmp_path / "infinite")
    with pytest.raises(ModelSpecError, match=r"1 weights of blocks.0.attn.W_Q are NaN or inf"):
        load_model(tmp_path / "infinite", device="cpu")


def test_devices_and_dtypes_torch_cannot_use_are_one_line(tmp_path):
    import torch

    from mechscope.core.errors import MechscopeError
    from mechscope.models.base import resolve_device, resolve_dtype

    with pytest.raises(MechscopeError, match="'tpu9' is not a device torch knows"):
        resolve_device("tpu9")
    with pytest.raises(MechscopeError, match="is a dtype, given where the device goes"):
        load_model("induction-2l", "float16")
    if not torch.cuda.is_available():
        with pytest.raises(MechscopeError, match="cannot use the device 'cuda'.*--device cpu"):
            load_model("induction-2l", device="cuda")
    assert resolve_dtype("bfloat16") is torch.bfloat16
    with pytest.raises(MechscopeError, match="unknown dtype 'half'"):
        resolve_dtype("half")


def test_a_training_run_given_as_a_model_points_to_its_checkpoints(tmp_path):
    from mechscope.core.errors import ModelSpecError

    run = tmp_path / "run"
    (run / "checkpoints" / "step_9").mkdir(parents=True)
    (run / "checkpoints" / "step_000200").mkdir()  # as the trainers name them
    (run / "metrics.jsonl").write_text("")
    # the latest by step, named as on disk (the hint is a path that loads)
    with pytest.raises(ModelSpecError, match=r"training run, not a model.*/step_000200\.$"):
        load_model(str(run))


def test_gated_mlp_and_unembedding_weights_are_laid_out_for_f_linear(hf_dirs):
    """`linear_layout`: W.T is contiguous (TransformerLens's per-forward copy becomes free),
    the values and the logits are bit-equal to the layout TransformerLens gives them."""
    from mechscope.models.base import linear_layout

    model = load_model(hf_dirs["llama"], device="cpu")
    relaid = [model.blocks[0].mlp.W_gate, model.blocks[0].mlp.W_in, model.blocks[0].mlp.W_out]
    assert all(w.T.is_contiguous() for w in [*relaid, model.unembed.W_U])
    tokens = torch.tensor([[1, 5, 9, 2]])
    with torch.no_grad():
        logits = model(tokens)
        for module in model.modules():
            for name in ("W_gate", "W_in", "W_out", "W_U"):
                if name in module._parameters:
                    weight = module._parameters[name]
                    setattr(module, name, torch.nn.Parameter(weight.detach().contiguous()))
        assert not model.unembed.W_U.T.is_contiguous()
        assert torch.equal(model(tokens), logits)
        assert linear_layout(model) is model and model.unembed.W_U.T.is_contiguous()
    gpt2 = load_model(hf_dirs["gpt2"], device="cpu")  # a plain MLP (x @ W_in) stays as it was
    assert gpt2.blocks[0].mlp.W_in.is_contiguous()
