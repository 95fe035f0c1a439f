"""One Result contract: every kind saves, loads through load_result, and tabulates."""

import json

import pytest
import torch

from mechscope.circuits.direct import direct_logit_attribution
from mechscope.circuits.stream import decompose_stream, stream_norms
from mechscope.circuits.weights import weight_circuits
from mechscope.core.axes import HeadId
from mechscope.core.batch import pad_token_lists
from mechscope.core.errors import MechscopeError
from mechscope.core.results import Provenance, Result, load_result
from mechscope.core.sites import Component, every_site
from mechscope.diagnostics.anisotropy import anisotropy_stats, class_geometry_by_layer
from mechscope.diagnostics.attention import attention_stats
from mechscope.diagnostics.gradients import gradient_norms
from mechscope.diagnostics.rank import rank_stats, redundancy_stats
from mechscope.heads import HeadKind, detect_heads, verify
from mechscope.heads.patterns import SentenceAttention, attention_patterns
from mechscope.heads.syntax import SyntaxScores
from mechscope.interventions import (
    ablation_effects,
    activation_patching,
    path_patching,
    repeated_pairs,
)
from mechscope.lens.logit import lens_trajectory
from mechscope.lens.tuned import LensComparison
from mechscope.models.hand_built import INDUCTION_HEAD, PREVIOUS_TOKEN_HEAD, induction_circuit_model
from tests.unit.core.test_result_format import library_kinds


@pytest.fixture(scope="module")
def model():
    return induction_circuit_model()


@pytest.fixture(scope="module")
def task(model):
    return repeated_pairs(model, n_prompts=4, half=6)


def _head_scores(model, task):
    return detect_heads(model, task.clean, [HeadKind.INDUCTION, HeadKind.ENTROPY], progress=False)


def _induction_result():
    from experiments.induction_heads.result import InductionResult, PhaseChange

    record = {"step": 0, "repeat_second_half_loss": 5.0, "induction_score": [[0.1]]}
    return InductionResult(
        metrics={"induction-2l": [record], "induction-1l": [record]},
        train_configs={"induction-2l": {"n_layers": 2}},
        phase_change=PhaseChange(10, 10, {"step": 0.0}, {"step": 20.0}),
        head_scores={"induction-2l": {"induction": [[0.9, 0.1]]}},
        losses={"induction-2l": {"icl_score": -0.2, "icl_score_se": 0.02}},
        induction_heads=[HeadId(1, 0)],
        previous_token_heads=[HeadId(0, 0)],
        k_composition=torch.rand(2, 2),
        k_composition_baseline=0.1,
        ablations=[{"label": "none", "how": "none", "repeat_second_half_loss": 0.1}],
        icl_ablations=[{"label": "none", "change": 0.0, "n_windows": 8}],
        view_tokens=["<bos>", "a"],
        view_patterns=torch.rand(2, 2, 2, 2),
    )


def _facts_result():
    from experiments.smollm_facts.analysis import FactsLensResult

    facts = [{"prompt": "p", "answer": " a", "relation": "capital", "kept": k} for k in (1, 0)]
    return FactsLensResult(
        labels=["embeddings", "after block 0"],
        facts=facts,
        rank=torch.tensor([[50, 9], [1, 3]]),
        prob=torch.rand(2, 2),
        kl=torch.rand(2, 2),
        france_top=[[("a", 0.5)], [(" Paris", 0.9)]],
        skipped={"answer is not one token": 1},
    )


def _ioi_result():
    from experiments.smollm_ioi.analysis import IoiResult

    grids = {"resid_pre": torch.rand(2, 3), "z_all": torch.rand(2, 2), "z_final": torch.rand(2, 2)}
    return IoiResult(
        behaviour=[{"corruption": "abc", "clean": 4.0, "clean_se": 0.3, "n": 8}],
        tokens=["When", " Mary", " and"],
        grids=grids,
        attribution={k: v + 0.1 for k, v in grids.items()},
        correlations={"z_all": 0.99},
        top_heads=[HeadId(1, 0)],
        paths=[{"sender": "0.1", "input": "Q", "normalised": 0.9, "z_all": 0.1}],
        attention=[{"head": "1.0", "io": 0.7, "s1": 0.1, "s2": 0.1}],
        seconds={"behaviour": 1.0},
    )


def _atlas_result(model, task):
    from experiments.smollm_atlas.analysis import AtlasResult

    return AtlasResult(
        scores=_head_scores(model, task),
        syntax=EXAMPLES["syntax-scores"](model, task),
        check=[{"group": "top", "head": "1.0", "induction": 0.9, "change": 2.0, "clean": 0.1}],
        thirds=[{"third": "early", "layers": "0-0", "first-token": 0.5}],
        seconds={"scoring": 1.0},
    )


def _tuned_lens_result():
    from experiments.smollm_tuned_lens.analysis import TunedLensResult

    return TunedLensResult(
        labels=["embeddings", "after block 0"],
        lenses=["logit lens", "tuned (KL)"],
        kl={"code": torch.rand(2, 2, 3), "english": torch.rand(2, 2, 3)},
        fact_rank=torch.tensor([[[5, 1]], [[1, 1]]]).mT.contiguous(),
        fact_kl=torch.rand(2, 2, 1),
        facts=["The capital of France is"],
        losses=[1.0, 0.5],
        seconds={"load": 1.0},
    )


def _gradient_health_result():
    from experiments.gradient_health.analysis import GradientHealthResult

    return GradientHealthResult({"a": torch.rand(3, 2), "b": torch.rand(3, 2)},
                                {"a": [[], []], "b": [["vanishing"], []]})  # fmt: skip


def _rank_collapse_result():
    from experiments.rank_collapse.analysis import RankCollapseResult

    return RankCollapseResult(torch.rand(3, 2), torch.rand(3, 2), {"m": [0.9, 0.8, 0.7]},
                              {"trained, with skips": torch.rand(3, 2)})  # fmt: skip


def _training_health_result():
    from experiments.training_health.analysis import TrainingHealthResult

    return TrainingHealthResult(["a", "b"], torch.tensor([0, 10, 20]), torch.rand(2, 3, 3),
                                torch.rand(2, 3, 3), torch.rand(2, 3, 3, 4),
                                torch.rand(2, 3, 3, 4))  # fmt: skip


def _collapse_mitigation_result():
    from experiments.attention_collapse_mitigation.analysis import CollapseMitigationResult

    return CollapseMitigationResult(["no remedy", "b"], torch.tensor([0, 10, 20]),
                                    torch.rand(2, 3, 3), torch.rand(2, 3, 3),
                                    torch.rand(2, 3, 3, 4), torch.rand(2, 3, 3, 4))  # fmt: skip


def _mitigation_results():
    from experiments.gradient_mitigation.analysis import GradientMitigationResult
    from experiments.overfitting_mitigation.analysis import OverfittingMitigationResult
    from experiments.vit_overfitting_mitigation.analysis import VitOverfittingMitigationResult

    r = torch.rand
    return {
        "gradient-mitigation": GradientMitigationResult(
            ["a", "b"], torch.tensor([0, 10, 20]), r(2, 3, 3), r(2, 3, 3), r(2, 3, 3, 4),
            r(2, 3, 3, 4), r(2, 3, 4, 14), {"b": "a"}),
        "overfitting-mitigation": OverfittingMitigationResult(
            ["no remedy", "b"], torch.tensor([0, 10, 20]), r(2, 3, 3), r(2, 3, 3), r(2, 3, 3, 3),
            r(2, 3, 3, 3), r(2, 3, 3, 3), r(2, 3, 3)),
        "vit-overfitting-mitigation": VitOverfittingMitigationResult(
            ["no remedy", "b"], torch.tensor([0, 10, 20]), r(2, 3, 3), r(2, 3, 3), r(2, 3, 3),
            r(2, 3, 3), r(2, 3, 3), r(2, 3, 5)),
    }  # fmt: skip


def _overfitting_result():
    from experiments.overfitting.analysis import OverfittingResult

    return OverfittingResult(torch.tensor([0, 50, 100]), torch.rand(2, 3), torch.rand(2, 3),
                             torch.rand(2, 3, 3), torch.rand(2, 3, 3), [100, None])  # fmt: skip


def _representation_examples():
    from mechscope.data.conllu import Sentence
    from mechscope.representations import Activations, Pooling, project, similarity_matrix
    from mechscope.representations.probes import ProbeResult, ProbeTable
    from mechscope.representations.structural import StructuralResult

    sentences = (Sentence(("a", "b", "c"), (1, -1, 1), ("det", "root", "obj"),
                          ("DET", "NOUN", "NOUN"), "email-1"),) * 4  # fmt: skip
    acts = Activations(torch.randn(2, 12, 5), ("embeddings", "layer 1"),
                       ("a", "b", "c") * 4, torch.arange(4).repeat_interleave(3), sentences,
                       Pooling.WORD_MEAN, {"no words": 1})  # fmt: skip
    nan = torch.tensor([0.5, float("nan")])
    probe = ProbeResult("upos", ("embeddings", "layer 1"), ("DET", "NOUN"),
                        torch.tensor([0.6, 0.9]), torch.tensor([0.5, 0.8]),
                        torch.tensor([0.7, 0.95]), torch.tensor([0.5, 0.4]), nan, 0.66, 8, 4,
                        1)  # fmt: skip
    structural = StructuralResult(("embeddings", "layer 1"), torch.rand(4, 2),
                                  torch.full((4, 2), float("nan")), 0.4, 16, 10, 4)  # fmt: skip
    return {
        "activations": acts,
        "probe": probe,
        "probe-table": ProbeTable(probe.rows(), [probe.summary()]),
        "structural-probe": structural,
        "projection": project(acts, ["x", "y", None] * 4),
        "similarity": similarity_matrix(acts, progress=False),
    }


def _representation_example(kind):
    return lambda model, task: _representation_examples()[kind]  # noqa: ARG005


def _hierarchy_result():
    from experiments.layer_hierarchy.analysis import HierarchyResult

    return HierarchyResult([{"model": "m", "task": "upos", "best_layer": 1}], ["m: holds"],
                           torch.tensor([100, 200]), 150, torch.rand(2, 3), torch.rand(2, 3),
                           torch.rand(2, 3), torch.rand(2, 3), "summary", {"m": {}})  # fmt: skip


def _dla_result():
    from experiments.smollm_dla.analysis import DlaResult

    return DlaResult(
        labels=["embed", "0.0", "mlp 0"],
        values={"facts": torch.rand(3, 4), "ioi": torch.rand(3, 5)},
        belt=[0.1, 0.5, 1.0], belt_labels=["embed", "attn 0", "mlp 0"], lens_rank=[9, 1],
        copying=[{"head": "0.0", "induction": 0.5, "copying": 0.9}],
        copying_all=torch.rand(1, 1), errors={"facts": 1e-6},
    )  # fmt: skip


def _induction_circuits_result():
    from experiments.induction_circuits.analysis import InductionCircuitsResult

    return InductionCircuitsResult(
        copying=torch.rand(2, 2), positional=torch.rand(2, 2, 4),
        composition={"K": torch.rand(2, 2)}, baseline={"K": 0.1},
        induction_score=torch.rand(2, 2), previous_score=torch.rand(2, 2),
        dla=torch.rand(2, 2), share=torch.rand(3), induction_heads=["1.0"],
        previous_head="0.0", claims=[{"claim": "c", "measured": "m", "verdict": "agrees"}],
    )  # fmt: skip


def _probe(task: str) -> Result:
    from mechscope.representations import ProbeResult

    values = {name: torch.rand(2) for name in ("accuracy", "ci_low", "ci_high", "control",
                                              "random_init")}  # fmt: skip
    return ProbeResult(task=task, boundaries=("embeddings", "after block 0"),
                       classes=("a", "b"), **values, majority=0.5, n_train=3, n_eval=2)  # fmt: skip


def _vision_examples() -> dict[str, Result]:
    """Every vision kind, measured on the hand-built left-neighbour ViT and a few shapes."""
    from experiments.vit_attention.analysis import ModelFindings, VitAttentionResult
    from mechscope.data.images import shapes_set
    from mechscope.lens import class_lens
    from mechscope.models.hand_built_vit import left_neighbour_vit
    from mechscope.vision import (
        classify_grid_heads,
        object_attention,
        patch_image_positions,
        remove_objects,
    )

    vit = left_neighbour_vit(side=8, patch_size=2)
    vit.unembed.W_U.data.normal_()  # the class head reads something, so patching has an effect
    vit.blocks[0].attn.W_V.data.normal_()
    vit.embed.W_E.data.normal_()  # and the pixels reach the stream
    vit.blocks[0].attn.W_O.data.normal_()
    shapes = shapes_set(n_images=4, image_size=16, seed=2)
    labels = shapes.labels % 2
    parts = {
        "kinds": classify_grid_heads(vit, shapes.pixels, shapes.masks),
        "objects": object_attention(vit, shapes.pixels, shapes.masks),
        "lens": class_lens(vit, shapes.pixels, labels),
        "patching": patch_image_positions(
            vit, shapes.pixels, remove_objects(shapes.pixels, shapes.masks), labels
        ),
    }
    findings = ModelFindings(0.5, 0.25, 7.0, **parts,  # pyright: ignore[reportArgumentType]
                             example_pixels=shapes.pixels[:1],
                             example_patterns=torch.rand(1, 1, 2, 65, 65),
                             object_gain=torch.rand(4, 1), background_gain=torch.rand(4, 1),
                             moved=torch.rand(4, 4),
                             class_probe=_probe("class"), side_probe=_probe("object side"),
                             dataset="shapes",
                             training={"step": 3})  # fmt: skip
    names = {"kinds": "grid-head-kinds", "objects": "object-attention", "lens": "class-lens",
             "patching": "image-patching"}  # fmt: skip
    return {names[part]: value for part, value in parts.items()} | {
        "vit-attention": VitAttentionResult({"hand-built": findings})
    }


_VISION: dict[str, Result] = {}


def _vision_example(kind: str):  # noqa: ANN202 - an EXAMPLES entry
    def build(model, task):  # noqa: ANN001, ANN202, ARG001
        if not _VISION:
            _VISION.update(_vision_examples())
        return _VISION[kind]

    return build


EXAMPLES = {
    **{
        kind: _vision_example(kind)
        for kind in (
            "grid-head-kinds",
            "object-attention",
            "class-lens",
            "image-patching",
            "vit-attention",
        )
    },
    "head-scores": _head_scores,
    "syntax-scores": lambda model, task: SyntaxScores(
        relations=("det", "obj"),
        counts=torch.tensor([3, 2]),
        accuracy=torch.rand(2, 2, 2, 2),
        baseline=torch.rand(2, 10),
        n_sentences=4,
        skipped={"no words": 1},
    ),
    "verification": lambda model, task: verify(
        model, _head_scores(model, task), HeadKind.INDUCTION, task.clean, k=1
    ),
    "sentence-attention": lambda model, task: SentenceAttention(
        [str(t) for t in task.clean.tokens[0].tolist()],
        attention_patterns(model, task.clean)[0],
        causal=True,
    ),
    "patching": lambda model, task: activation_patching(
        task.runs(model), every_site(Component.Z, 2, n_heads=2), progress=False
    ),
    "ablation-effects": lambda model, task: ablation_effects(
        model, task.clean, task.logit_diff(), [[HeadId(0, 0), HeadId(1, 0)], (1, 1)]
    ),
    "path-patching": lambda model, task: path_patching(
        task.runs(model), [PREVIOUS_TOKEN_HEAD], [INDUCTION_HEAD]
    ),
    "trajectory": lambda model, task: lens_trajectory(
        model, pad_token_lists(task.clean.tokens.tolist(), 0), k=3
    ),
    "lens-comparison": lambda model, task: LensComparison(
        ["embeddings", "after block 0", "after block 1"],
        ["logit lens", "tuned lens"],
        torch.rand(2, 3, 4),
    ),
    "induction-reproduction": lambda model, task: _induction_result(),
    "facts-lens": lambda model, task: _facts_result(),
    "ioi-circuit": lambda model, task: _ioi_result(),
    "head-atlas": _atlas_result,
    "smollm-tuned-lens": lambda model, task: _tuned_lens_result(),
    "stream-decomposition": lambda model, task: decompose_stream(model, task.clean.tokens, 1),
    "stream-norms": lambda model, task: stream_norms(model, task.clean.tokens),
    "direct-attribution": lambda model, task: direct_logit_attribution(
        model, task.clean.tokens, task.clean.tokens[:, -1], task.clean.tokens[:, 0]
    ),
    "weight-circuits": lambda model, task: weight_circuits(model),
    "induction-circuits": lambda model, task: _induction_circuits_result(),
    "smollm-dla": lambda model, task: _dla_result(),
    "attention-stats": lambda model, task: attention_stats(model, task.clean),
    "rank-stats": lambda model, task: rank_stats(model, task.clean),
    "feature-redundancy": lambda model, task: redundancy_stats(model, task.clean),
    "anisotropy": lambda model, task: anisotropy_stats(model, task.clean),
    "gradient-norms": lambda model, task: gradient_norms(model, task.clean),
    "class-geometry": lambda model, task: class_geometry_by_layer(
        model,
        task.clean,
        task.clean.tokens % 3 - (task.clean.attention_mask == 0).long() * 9,
        ["a", "b", "c"],
    ),
    "rank-collapse": lambda model, task: _rank_collapse_result(),
    "gradient-health": lambda model, task: _gradient_health_result(),
    "training-health": lambda model, task: _training_health_result(),
    "attention-collapse-mitigation": lambda model, task: _collapse_mitigation_result(),
    "gradient-mitigation": lambda model, task: _mitigation_results()["gradient-mitigation"],
    "overfitting-mitigation": lambda model, task: _mitigation_results()["overfitting-mitigation"],
    "vit-overfitting-mitigation": lambda model, task: _mitigation_results()[
        "vit-overfitting-mitigation"
    ],
    "overfitting": lambda model, task: _overfitting_result(),
    "layer-hierarchy": lambda model, task: _hierarchy_result(),
    "sae-evaluation": lambda model, task: _sae_evaluation(),
    "transcoder-evaluation": lambda model, task: _transcoder_evaluation(),
    "feature-reading": lambda model, task: _feature_reading(),
    "feature-labels": lambda model, task: _feature_labels(),
    "feature-attribution": lambda model, task: _feature_attribution(),
    "feature-hierarchy": lambda model, task: _feature_hierarchy(),
    "smollm-features": lambda model, task: _smollm_features(),
    "hierarchy": lambda model, task: _hierarchy(),
    "coreference-scores": lambda model, task: _coreference_scores(),
    "aggregation-scores": lambda model, task: _aggregation_scores(),
    "layer-dropping": lambda model, task: _layer_dropping(),
    "frozen-sweep": lambda model, task: _frozen_sweep(),
    "query-key": lambda model, task: _query_key(),
    "mention-similarity": lambda model, task: _mention_similarity(),
    "edge-scores": lambda model, task: _edge_scores(),
    "circuit-discovery": lambda model, task: _circuit_discovery(),
    "acdc": lambda model, task: _acdc(),
    "edge-effects": lambda model, task: _edge_effects(),
    "logit-attribution": lambda model, task: _logit_attribution(),
    "attribution-graph": lambda model, task: _attribution_graph(),
    "graph-validation": lambda model, task: _graph_validation(),
    "smollm-graphs": lambda model, task: _smollm_graphs(),
    "direction-readout": lambda model, task: _direction_readout(),
    **{
        kind: _representation_example(kind)
        for kind in (
            "activations",
            "probe",
            "probe-table",
            "structural-probe",
            "projection",
            "similarity",
        )
    },
}


def _sae_evaluation():
    from mechscope.features import SaeEvaluation

    return SaeEvaluation(hook="blocks.0.hook_resid_post", n_tokens=10, explained_variance=0.5,
                         explained_variance_per_dim=0.4, mse=1.0, l0=3.0,
                         density=torch.rand(8), losses=torch.rand(5, 4))  # fmt: skip


def _transcoder_evaluation():
    from mechscope.features import TranscoderEvaluation

    return TranscoderEvaluation(layer=0, n_tokens=10, explained_variance=0.5, l0=2.0,
                                density=torch.rand(8), losses=torch.rand(5, 4))  # fmt: skip


def _feature_reading():
    from mechscope.features import FeatureReading

    return FeatureReading(
        hook="blocks.0.hook_resid_post", windows=torch.randint(0, 10, (2, 6)),
        vocab={str(i): chr(97 + i) for i in range(10)}, density=torch.rand(4),
        top_values=torch.rand(4, 3), top_windows=torch.randint(0, 2, (4, 3)),
        top_positions=torch.randint(0, 6, (4, 3)), histogram=torch.rand(4, 20),
        promoted=torch.randint(0, 10, (4, 2)), promoted_logits=torch.rand(4, 2),
        suppressed=torch.randint(0, 10, (4, 2)), suppressed_logits=torch.rand(4, 2),
        neighbours=torch.randint(0, 4, (4, 2)), neighbour_cosine=torch.rand(4, 2),
    )  # fmt: skip


def _feature_labels():
    from mechscope.features import FeatureLabels

    return FeatureLabels(
        hook="blocks.0.hook_resid_post", families=("token", "upos"),
        labels=[["a", "b", "", "c"], ["NOUN", "VERB", "", "DET"]],
        precision=torch.rand(4, 2), recall=torch.rand(4, 2), f1=torch.rand(4, 2),
        control=torch.rand(4, 2) / 4, fired=torch.tensor([3, 1, 0, 5]), n_tokens=20,
    )  # fmt: skip


def _feature_attribution():
    from mechscope.features import FeatureAttribution

    return FeatureAttribution(hook="blocks.0.hook_resid_post", metric="logit diff",
                              method="patching", baseline=0.5, reference=2.0,
                              estimate=torch.rand(6), top=torch.tensor([4, 1]),
                              exact=torch.rand(2))  # fmt: skip


def _feature_hierarchy():
    from experiments.feature_hierarchy.analysis import FeatureHierarchy

    row = {"model": "m", "layer": 0, "shares": {"token identity": [0.5, 0.4, 0.6]}, "live": 3}
    return FeatureHierarchy([row], {"m": {"token identity": [0.1, 0.0, 0.2, 3.0]}},
                            ["a verdict"], torch.tensor([3.0]))  # fmt: skip


def _smollm_features():
    from experiments.smollm_features.analysis import SmolFeatures

    row = {"task": "ioi-abc", "layer": 24, "features": [{"feature": 3, "normalised": 0.4}]}
    return SmolFeatures([row], [{"what": "x", "kl": 0.1}], torch.tensor([0.4]))


def _coreference_scores():
    from mechscope.heads import CoreferenceScores

    return CoreferenceScores(
        correct=(torch.rand(5, 2, 4) > 0.5).float(), nearest=torch.tensor([1.0, 0, 0, 1, 0]),
        head_match=torch.tensor([1.0, 1, 0, 1, 0]),
        pronoun=torch.tensor([True, False, True, False, False]),
        document=torch.tensor([0, 0, 1, 1, 2]), window=4, n_windows=3, skipped={"x": 1},
    )  # fmt: skip


def _hierarchy():
    from experiments.hierarchy.analysis import Hierarchy, profile

    row = profile("x", "minilm", "GUM", [0.0, 0.5, 1.0], [0.2, 0.9, 0.8], [0.1, 0.8, 0.7],
                  [0.3, 1.0, 0.95])  # fmt: skip
    verdict = {"claim": 1, "statement": "s", "model": "MiniLM", "verdict": "right", "evidence": "e"}
    return Hierarchy([row], [verdict], {"MiniLM": {}}, torch.tensor([0.5]))


def _aggregation_scores():
    from mechscope.heads import AggregationScores

    return AggregationScores(targets=("sentiment", "entity"), mass=torch.rand(2, 2, 4),
                             share=torch.tensor([0.1, 0.3]), sentences=(4, 5), queries=(40, 50),
                             skipped={"entity: x": 1})  # fmt: skip


def _layer_dropping():
    from mechscope.interventions import LayerDropping

    return LayerDropping(conditions=("intact", "drop block 0", "drop top 1"),
                         measures=("loss", "accuracy"), values=torch.rand(3, 2),
                         higher_is_better=(False, True))  # fmt: skip


def _frozen_sweep():
    from mechscope.training import FrozenSweep

    return FrozenSweep(frozen=(0, 2), seeds=(0, 1), correct=(torch.rand(2, 2, 5) > 0.5).float(),
                       cka=torch.rand(2, 3), boundaries=("embeddings", "a", "b"), majority=0.5,
                       n_train=8, n_eval=5)  # fmt: skip


def _query_key():
    from mechscope.heads import QueryKey

    q, k = torch.rand(3, 4), torch.rand(3, 4)
    return QueryKey(str_tokens=["a", "b", "c"], layer=1, head=2, q=q, k=k, scale=2.0,
                    pattern=torch.rand(3, 3), causal=True)  # fmt: skip


def _edge_scores():
    from mechscope.circuits import EdgeScores

    scores = torch.rand(2, 3)
    scores[1, 0] = float("nan")
    return EdgeScores(upstream=["input", "a0.0"], downstream=["a0.0<q>", "a0.0<k>", "logits"],
                      scores=scores, method="eap", metric="logit-diff", clean_value=2.0,
                      corrupted_value=0.5, n_prompts=4)  # fmt: skip


def _circuit_discovery():
    from mechscope.circuits import CircuitDiscovery

    return CircuitDiscovery(edges=["a0.0->logits", "input->a0.0<q>", "input->logits"],
                            sizes=torch.tensor([1, 2, 3]), values=torch.tensor([0.5, 1.5, 2.0]),
                            clean_value=2.0, ablated_value=0.5, target=0.8, chosen=2,
                            ablation="resample", metric="logit-diff", n_edges=3)  # fmt: skip


def _acdc():
    from mechscope.circuits import AcdcResult

    return AcdcResult(edges=["a0.0->logits"], tau=0.1, value=1.8, clean_value=2.0,
                      ablated_value=0.5, n_edges=3, forward_passes=4, ablation="resample",
                      metric="logit-diff")  # fmt: skip


def _edge_effects():
    from mechscope.circuits import EdgeEffects

    return EdgeEffects(edges=["a0.0->logits", "input->logits"], effects=torch.tensor([-1.0, 0.1]),
                       estimates=torch.tensor([-0.8, 0.0]), clean_value=2.0, ablation="resample",
                       metric="logit-diff")  # fmt: skip


def _logit_attribution():
    from mechscope.circuits import LogitAttribution

    return LogitAttribution(tokens=["a", "b"], target="c", logit=1.5, bias=0.5,
                            nodes=["emb@0", "emb@1", "f0.3@1", "err0@1"],
                            effects=torch.tensor([0.2, 0.3, 0.4, 0.1]),
                            values=torch.tensor([1.0, 1.0, 0.7, 0.2]))  # fmt: skip


def _attribution_graph():
    from mechscope.circuits import AttributionGraph

    adjacency = torch.zeros(4, 4)
    adjacency[2, 0], adjacency[3, 2], adjacency[3, 1] = 0.5, 1.2, -0.3
    return AttributionGraph(tokens=["a", "b"], target="logit('c')", value=1.4,
                            nodes=["emb@0", "err0@1", "f0.3@1", "target"],
                            layer=torch.tensor([-1, 0, 0, 1]), pos=torch.tensor([0, 1, 1, 1]),
                            activation=torch.tensor([1.0, 0.2, 0.7, 1.4]),
                            influence=torch.tensor([0.4, 0.2, 0.8, 0.0]),
                            direct=torch.tensor([0.0, -0.3, 1.2, 0.0]),
                            total=torch.tensor([0.86, -0.3, 1.2, 0.0]), adjacency=adjacency,
                            n_active=5, n_explored=3,
                            scores={"replacement_explored": 0.7, "completeness_explored": 0.8,
                                    "replacement_pruned": 0.7, "completeness_pruned": 0.8},
                            groups={"g": ["f0.1@0"]})  # fmt: skip


def _smollm_graphs():
    from experiments.smollm_graphs.analysis import SmolGraphs

    return SmolGraphs(transcoders=[{"layer": 0, "explained_variance": 0.9, "l0": 50.0}],
                      graphs=[{"task": "facts", "prompt": "a b", "top": [{"node": "f0.1@1"}],
                               "r_total": 0.8}],
                      pooled={"facts": {"n": 2, "r_total": 0.8, "low": 0.1, "high": 0.9}},
                      features=["f0.1@1", "f3.2@1"], measured=torch.tensor([-1.0, 0.5]),
                      measured_frozen=torch.tensor([-1.1, 0.4]),
                      measured_replacement=torch.tensor([-0.9, 0.4]),
                      measured_half=torch.tensor([-0.5, 0.2]),
                      measured_half_replacement=torch.tensor([-0.45, 0.2]),
                      predicted_total=torch.tensor([-0.9, 0.4]),
                      predicted_direct=torch.tensor([-0.5, 0.1]),
                      graph_of=torch.tensor([0, 0]), peak_rss_gb=1.5)  # fmt: skip


def _graph_validation():
    from mechscope.circuits import GraphValidation

    return GraphValidation(target="logit('c')", scale=0.0, features=["f0.3@1", "f1.2@1"],
                           measured=torch.tensor([-1.1, -0.2]),
                           predicted_total=torch.tensor([-1.2, -0.1]),
                           predicted_direct=torch.tensor([-1.0, 0.0]))  # fmt: skip


def _mention_similarity():
    from mechscope.representations import MentionSimilarity

    return MentionSimilarity(boundaries=("embeddings", "after block 0"),
                             coreferent=torch.rand(2), other=torch.rand(2),
                             retrieved=(torch.rand(2, 5) > 0.5).float(),
                             nearest=torch.tensor([1.0, 0, 0, 1, 0]),
                             document=torch.tensor([0, 0, 1, 1, 2]), window=4,
                             coreferent_hist=torch.rand(2, 40), other_hist=torch.rand(2, 40),
                             separation=torch.rand(2))  # fmt: skip


def _direction_readout():
    from mechscope.representations import DirectionResult

    return DirectionResult(
        task="sentiment", classes=("negative", "positive"), boundaries=("a", "b"),
        directions=torch.rand(2, 8), accuracy=torch.rand(2), ci_low=torch.rand(2) / 2,
        ci_high=torch.rand(2) / 2 + 0.5, separation=torch.rand(2), n_train=10, n_eval=6,
    )  # fmt: skip


def test_every_kind_has_an_example():
    assert set(EXAMPLES) == set(library_kinds())


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_kind_round_trips_through_load_result(kind, model, task, tmp_path):
    result = EXAMPLES[kind](model, task).with_provenance({"seed": 3, "path": tmp_path}, "spec-x")
    assert isinstance(result, Result) and result.kind == kind
    result.save(tmp_path / kind)
    meta = json.loads((tmp_path / kind / "result.json").read_text())
    assert meta["kind"] == kind and meta["format_version"] == 2
    assert meta["class"] == f"{type(result).__module__}:{type(result).__qualname__}"
    assert meta["config"] == {"seed": 3, "path": str(tmp_path)} and meta["model"] == "spec-x"
    loaded = load_result(tmp_path / kind)
    assert type(loaded) is type(result)
    assert loaded.provenance == Provenance(
        config={"seed": 3, "path": str(tmp_path)}, model="spec-x"
    )
    assert json.dumps(loaded._data(), sort_keys=True) == json.dumps(result._data(), sort_keys=True)
    ours, theirs = result._tensors(), loaded._tensors()
    assert ours.keys() == theirs.keys()
    for name, tensor in ours.items():
        torch.testing.assert_close(theirs[name], tensor.cpu(), equal_nan=True, rtol=0, atol=0)
    assert len(loaded.to_dataframe()) > 0
    assert type(loaded).load(tmp_path / kind).kind == kind


def test_loading_is_refused_clearly(tmp_path, model, task):
    with pytest.raises(MechscopeError, match="does not hold a readable mechscope result"):
        load_result(tmp_path / "nothing")
    EXAMPLES["lens-comparison"](model, task).save(tmp_path / "lens")
    with pytest.raises(MechscopeError, match="holds a lens-comparison result, not patching"):
        from mechscope.interventions import PatchingResult

        PatchingResult.load(tmp_path / "lens")
    meta = json.loads((tmp_path / "lens" / "result.json").read_text())
    (tmp_path / "lens" / "result.json").write_text(json.dumps(meta | {"format_version": 99}))
    with pytest.raises(MechscopeError, match="newer mechscope"):
        load_result(tmp_path / "lens")
    (tmp_path / "lens" / "result.json").write_text(json.dumps(meta | {"kind": "nope"}))
    with pytest.raises(MechscopeError, match="unknown result kind 'nope'"):
        load_result(tmp_path / "lens")


def test_a_kind_belongs_to_one_class_and_checks_go_in_validate():
    with pytest.raises(TypeError, match="result kind 'patching' of .* is taken by"):

        class Stray(Result):  # noqa: F841 - defining it is the test
            kind = "patching"

    with pytest.raises(TypeError, match="defines __post_init__; put its checks in _validate"):

        class Checked(Result):  # noqa: F841 - defining it is the test
            def __post_init__(self) -> None:
                pass
