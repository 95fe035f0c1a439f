"""Probing tasks, the control task, and probes against scikit-learn and known answers."""

import dataclasses
import math

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.metrics import group_bootstrap_interval as bootstrap_interval
from mechscope.core.results import load_result
from mechscope.data.conllu import Sentence
from mechscope.representations import (
    Activations,
    Pooling,
    ProbeKind,
    ProbeResult,
    ProbeSettings,
    ProbeTask,
    control_labels,
    encode,
    fit_probe,
    probe_layers,
    task_labels,
)
from mechscope.representations.tasks import depths, shuffled_labels

TREE = Sentence(("A", "very", "small", "mouse", "ran", "away", "."), (3, 2, 3, 4, -1, 4, 4),
                ("det", "advmod", "amod", "nsubj", "root", "advmod", "punct"),
                ("DET", "ADV", "ADJ", "NOUN", "VERB", "ADV", "PUNCT"),
                "reviews-0003")  # fmt: skip


def test_treebank_tasks_read_the_gold_annotation():
    assert depths(TREE) == [2, 3, 2, 1, 0, 1, 1]
    assert task_labels(ProbeTask.DEPTH, [TREE], 7) == ["2", "3", "2", "1", "0", "1", "1"]
    assert task_labels(ProbeTask.DISTANCE, [TREE], 7) == ["3", "1", "1", "1", None, "1", "2"]
    assert task_labels(ProbeTask.UPOS, [TREE], 7)[3] == "NOUN"
    assert task_labels(ProbeTask.DEPREL, [TREE], 7)[2] == "amod"
    assert task_labels(ProbeTask.GENRE, [TREE], 1) == ["reviews"]
    with pytest.raises(MechscopeError, match="structural probe fits distances"):
        task_labels(ProbeTask.STRUCTURAL, [TREE], 7)
    gum = dataclasses.replace(TREE, head_entities=(None, None, None, "animal", None, None, None),
                              head_chains=(None, None, None, "chain", None, None, None),
                              label="positive")  # fmt: skip
    assert task_labels(ProbeTask.ENTITY, [gum], 7)[3] == "animal"
    assert task_labels(ProbeTask.CHAIN, [gum], 7).count(None) == 6
    assert task_labels(ProbeTask.SENTIMENT, [gum], 1) == ["positive"]
    assert ProbeTask.SENTIMENT.sentence_level and not ProbeTask.ENTITY.sentence_level
    with pytest.raises(MechscopeError, match="no entity annotation"):
        task_labels(ProbeTask.ENTITY, [TREE], 7)
    with pytest.raises(MechscopeError, match="collect with a word pooling"):
        task_labels(ProbeTask.UPOS, [TREE], 1)


def test_encoding_counts_unseen_eval_labels_and_refuses_one_class():
    encoded = encode(["a", "b", None, "a"], ["b", "c", "a", None])
    assert encoded.classes == ("a", "b")
    assert encoded.train.tolist() == [0, 1, -1, 0] and encoded.eval.tolist() == [1, -1, 0, -1]
    assert encoded.n_unseen == 1
    with pytest.raises(MechscopeError, match="at least two classes"):
        encode(["a", "a"], ["a"])
    with pytest.raises(MechscopeError, match="nothing to score"):
        encode(["a", "b"], ["c"])


def test_control_labels_are_fixed_per_type_and_follow_the_label_distribution():
    types = [f"w{i % 500}" for i in range(20000)]
    labels = torch.tensor([0] * 15000 + [1] * 5000)
    train, eval_ = control_labels(types, ["w3", "w3", "new"], labels, seed=1)
    by_type = {}
    for t, label in zip(types, train.tolist(), strict=True):
        assert by_type.setdefault(t, label) == label  # one label per word type
    assert eval_[0] == eval_[1] == by_type["w3"]
    share = sum(by_type.values()) / len(by_type)  # types labelled 1
    assert 0.18 < share < 0.32  # drawn with the train split's 25 % of class 1


def test_the_linear_probe_fits_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1500, 20, generator=generator) * torch.linspace(0.2, 5, 20)
    w = torch.randn(20, 4, generator=generator)
    y = (x @ w + torch.randn(1500, 4, generator=generator) * 3).argmax(-1)
    decay = 1e-3
    probe = fit_probe(x[:1000], y[:1000], 4, ProbeSettings(weight_decay=decay, max_iter=200))
    mean, std = x[:1000].mean(0), x[:1000].std(0)
    reference = LogisticRegression(C=1 / (decay * 1000), max_iter=2000, tol=1e-8)
    reference.fit(((x[:1000] - mean) / std).numpy(), y[:1000].numpy())
    theirs = torch.from_numpy(reference.predict(((x[1000:] - mean) / std).numpy()))
    ours = probe.predict(x[1000:])
    assert (ours == theirs).float().mean() > 0.98
    reference_weights = torch.from_numpy(reference.coef_).double()
    torch.testing.assert_close(probe.net.weight.detach().double(), reference_weights,
                               atol=2e-2, rtol=0)  # fmt: skip


def test_adam_reaches_the_l_bfgs_optimum_and_auto_picks_it_for_many_units(monkeypatch):
    import mechscope.representations.probes as probes
    from mechscope.representations import ProbeSolver

    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3000, 20, generator=generator) * torch.linspace(0.2, 5, 20)
    y = (x @ torch.randn(20, 5, generator=generator)
         + torch.randn(3000, 5, generator=generator) * 3).argmax(-1)  # fmt: skip

    def objective(probe):
        z = (x[:2000] - probe.mean) / probe.std
        with torch.no_grad():
            return float(probes._penalised_loss(probe.net, z, y[:2000], 1e-4))

    exact = fit_probe(x[:2000], y[:2000], 5, ProbeSettings(solver=ProbeSolver.LBFGS, max_iter=300))
    adam = fit_probe(x[:2000], y[:2000], 5, ProbeSettings(solver=ProbeSolver.ADAM))
    # within 0.015 nats of the optimum (0.009 on UD EWT deprel, MiniLM layer 3)
    assert objective(exact) <= objective(adam) < objective(exact) + 0.015
    assert (adam.predict(x[2000:]) == exact.predict(x[2000:])).float().mean() > 0.97
    calls = []
    monkeypatch.setattr(probes, "_fit_adam", lambda *args: calls.append("adam"))
    monkeypatch.setattr(probes, "_fit_lbfgs", lambda *args: calls.append("lbfgs"))
    fit_probe(x[:2000], y[:2000], 5)
    monkeypatch.setattr(probes, "ADAM_ABOVE", 1999)
    fit_probe(x[:2000], y[:2000], 5)
    assert calls == ["lbfgs", "adam"]
    with pytest.raises(probes.MechscopeError, match="Adam's step > 0"):
        ProbeSettings(adam_lr=0.0)


def synthetic(n_sentences, seed, vocabulary=40):
    """Words of random types; boundary 1 encodes the label linearly, boundary 0 is noise.

    The label is a feature of the context (a random bit per sentence and word), not of the
    word's type, so the control task (labels by type) cannot be read from boundary 1.
    """
    generator = torch.Generator().manual_seed(seed)
    sentences, labels, types = [], [], []
    for _ in range(n_sentences):
        words = tuple(f"w{int(i)}" for i in torch.randint(0, vocabulary, (8,),
                                                          generator=generator))  # fmt: skip
        sentences.append(Sentence(words, (-1,) * 8, ("dep",) * 8))
        types.extend(words)
        labels.extend(torch.randint(0, 3, (8,), generator=generator).tolist())
    n = len(labels)
    y = torch.tensor(labels)
    informative = torch.nn.functional.one_hot(y, 3).float() * 3 + torch.randn(
        n, 3, generator=generator
    )
    values = torch.stack(
        [
            torch.randn(n, 6, generator=generator),
            torch.cat([informative, torch.randn(n, 3, generator=generator)], 1),
        ]
    )
    acts = Activations(values, ("embeddings", "layer 1"), tuple(types),
                       torch.arange(n_sentences).repeat_interleave(8), tuple(sentences),
                       Pooling.WORD_MEAN)  # fmt: skip
    return acts, [str(label) for label in labels]


def test_probes_find_the_informative_layer_and_the_control_stays_low(tmp_path):
    train, train_labels = synthetic(200, 0)
    eval_, eval_labels = synthetic(60, 1)
    for kind in ProbeKind:
        result = probe_layers(train, train_labels, eval_, eval_labels, task="bits",
                              settings=ProbeSettings(kind=kind), progress=False)  # fmt: skip
        assert result.accuracy[1] > 0.85 and result.accuracy[0] < 0.45, kind
        assert result.ci_low[1] <= result.accuracy[1] <= result.ci_high[1]
        assert result.control[1] < 0.45 and result.selectivity[1] > 0.45
        assert abs(result.majority - 1 / 3) < 0.06
        assert result.best_boundary == 1 and result.expected_layer == 1.0
        assert result.expected_layer_interval(n_boot=50) == (1.0, 1.0)
        assert result.correct.shape == (2, 60 * 8)
        torch.testing.assert_close(result.correct.mean(1), result.accuracy)
        assert math.isnan(float(result.random_init[0]))
    result.save(tmp_path / "probe")
    loaded = load_result(tmp_path / "probe")
    assert isinstance(loaded, ProbeResult)
    torch.testing.assert_close(loaded.accuracy, result.accuracy)
    frame = loaded.to_dataframe()
    assert list(frame.columns) == ["task", "layer", "metric", "value"]
    assert set(frame.metric) >= {"accuracy", "control", "selectivity", "majority"}


def test_sentence_tasks_control_by_shuffled_labels():
    """Sentence units: the control probe learns permuted train labels and scores near chance."""
    words, word_labels = synthetic(300, 0)
    evals, eval_labels = synthetic(100, 1)
    as_sentences = lambda a: dataclasses.replace(a, pooling=Pooling.SENTENCE_MEAN)  # noqa: E731
    result = probe_layers(as_sentences(words), word_labels, as_sentences(evals), eval_labels,
                          boundaries=[1], progress=False)  # fmt: skip
    assert float(result.accuracy[0]) > 0.85 and float(result.control[0]) < 0.45
    shuffled, same = shuffled_labels(torch.tensor([0, 1, 1, -1, 2]), torch.tensor([2, 0]), seed=3)
    assert sorted(shuffled.tolist()) == [-1, 0, 1, 1, 2] and shuffled[3] == -1
    assert same.tolist() == [2, 0]


def test_a_random_model_baseline_and_bad_input(tmp_path):
    train, train_labels = synthetic(100, 0)
    eval_, eval_labels = synthetic(30, 1)
    noise_train, _ = synthetic(100, 5)
    noise_eval, _ = synthetic(30, 6)
    result = probe_layers(train, train_labels, eval_, eval_labels, boundaries=[1],
                          random_train=noise_train, random_eval=noise_eval, control=False,
                          progress=False)  # fmt: skip
    assert result.boundaries == ("layer 1",) and float(result.random_init[0]) < 0.5
    with pytest.raises(MechscopeError, match="do not align"):
        probe_layers(train, train_labels[:-1], eval_, eval_labels, progress=False)
    with pytest.raises(MechscopeError, match="out of range"):
        probe_layers(train, train_labels, eval_, eval_labels, boundaries=[2], progress=False)
    with pytest.raises(MechscopeError, match="at least two classes"):
        probe_layers(train, ["1"] * len(train_labels), eval_, eval_labels, progress=False)


def test_expected_layer_and_the_bootstrap_by_sentence():
    def result(accuracy):
        n = len(accuracy)
        nan = torch.full((n,), math.nan)
        return ProbeResult("t", tuple(str(i) for i in range(n)), ("a", "b"),
                           torch.tensor(accuracy), nan, nan, nan, nan, 0.5, 1, 1)  # fmt: skip

    # gains 0.2 at layer 1 and 0.2 at layer 3: centre of gravity 2
    assert result([0.5, 0.7, 0.7, 0.9]).expected_layer == pytest.approx(2.0)
    # a dip is not a negative gain: the best so far carries over
    assert result([0.5, 0.9, 0.6, 0.9]).expected_layer == pytest.approx(1.0)
    assert math.isnan(result([0.9, 0.8, 0.7]).expected_layer)
    correct = torch.tensor([1.0] * 50 + [0.0] * 50)
    low, high = bootstrap_interval(correct, torch.arange(100))
    assert low < 0.5 < high and high - low < 0.25
    # the same hits in 2 sentences of 50 words: far wider than 100 independent words
    low2, high2 = bootstrap_interval(correct, torch.arange(100) // 50)
    assert high2 - low2 > 0.9


def test_boundaries_have_one_name_and_old_names_still_number():
    from mechscope.models import boundary_labels
    from mechscope.representations.choices import boundary_numbers

    labels = boundary_labels(3)
    assert labels == ("embeddings", "after block 0", "after block 1", "after block 2")
    assert boundary_numbers(labels) == [0, 1, 2, 3]
    assert boundary_numbers(("embeddings", "layer 1", "layer 2")) == [0, 1, 2]  # saved before
