"""CKA, SVCCA, PWCCA against known answers and a reference; projections."""

import pytest
import torch

from mechscope.core.errors import MechscopeError
from mechscope.core.results import load_result
from mechscope.data.conllu import Sentence
from mechscope.representations import (
    Activations,
    Method,
    Pooling,
    Projection,
    ProjectionMethod,
    Similarity,
    linear_cka,
    project,
    similarity,
    similarity_matrix,
)
from mechscope.representations.similarities import kernel_cka, rbf_kernel


def reference_cka(x, y, unbiased):
    """CKA from n x n Gram matrices, written out from Kornblith et al. / Song et al."""
    x, y = x.double() - x.double().mean(0), y.double() - y.double().mean(0)
    k, l = x @ x.T, y @ y.T  # noqa: E741
    n = len(x)

    def hsic(a, b):
        if not unbiased:
            h = torch.eye(n, dtype=torch.float64) - 1 / n
            return torch.trace(a @ h @ b @ h) / (n - 1) ** 2
        a, b = a - torch.diag(torch.diag(a)), b - torch.diag(torch.diag(b))
        one = torch.ones(n, dtype=torch.float64)
        return (torch.trace(a @ b) + (one @ a @ one) * (one @ b @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (one @ a @ b @ one)) / (n * (n - 3))  # fmt: skip

    return float(hsic(k, l) / torch.sqrt(hsic(k, k) * hsic(l, l)))


@pytest.fixture
def pair():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(120, 16, generator=generator)
    y = x[:, :8] @ torch.randn(8, 10, generator=generator) + 0.5 * torch.randn(
        120, 10, generator=generator
    )
    return x, y


def test_cka_equals_the_reference_and_is_one_on_itself(pair):
    x, y = pair
    for unbiased in (True, False):
        assert linear_cka(x, y, unbiased=unbiased) == pytest.approx(
            reference_cka(x, y, unbiased), abs=1e-9
        )
        assert linear_cka(x, x, unbiased=unbiased) == pytest.approx(1.0, abs=1e-9)
    # minibatch CKA with one batch of every unit is the unbiased estimate
    assert kernel_cka(x, y, minibatch=120) == pytest.approx(linear_cka(x, y), abs=1e-9)
    assert 0.3 < linear_cka(x, y) < 0.95


def test_invariances_and_independence(pair):
    x, y = pair
    generator = torch.Generator().manual_seed(1)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=generator, dtype=torch.float64))
    transformed = 7.5 * x.double() @ rotation
    for method in Method:
        # PWCCA weighs canonical variates by the neurons they explain: scale-invariant only
        changed = 7.5 * x if method is Method.PWCCA else transformed
        assert similarity(changed, y, method) == pytest.approx(
            similarity(x, y, method), abs=1e-6
        ), method
        assert similarity(x, x, method) == pytest.approx(1.0, abs=1e-6), method
    independent = torch.randn(120, 10, generator=generator)
    assert abs(linear_cka(x, independent)) < 0.1
    assert similarity(x, independent, Method.RBF_CKA) < 0.2
    # SVCCA/PWCCA see any invertible linear map as the same representation
    mixed = x @ torch.randn(16, 16, generator=generator)
    assert similarity(x, mixed, Method.PWCCA) == pytest.approx(1.0, abs=1e-6)
    assert rbf_kernel(x).diagonal().eq(1).all()
    with pytest.raises(MechscopeError, match="same units"):
        similarity(x, y[:50])


def test_standardising_stops_one_huge_feature_deciding_cka():
    generator = torch.Generator().manual_seed(4)
    shared = torch.randn(300, 1, generator=generator) * 500  # an outlier feature in both
    x = torch.cat([shared, torch.randn(300, 20, generator=generator)], 1)
    y = torch.cat([shared, torch.randn(300, 20, generator=generator)], 1)
    sentences = tuple(Sentence(("w",) * 3, (-1,) * 3, ("x",) * 3) for _ in range(100))
    acts = Activations(torch.stack([x, y]), ("embeddings", "layer 1"), ("w",) * 300,
                       torch.arange(100).repeat_interleave(3), sentences,
                       Pooling.WORD_MEAN)  # fmt: skip
    raw = similarity_matrix(acts, progress=False).matrix[0, 1]
    fair = similarity_matrix(acts, standardize=True, progress=False).matrix[0, 1]
    assert raw > 0.99 and fair < 0.2  # one shared feature of 21


def test_minibatch_cka_approaches_the_full_estimate():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(4000, 12, generator=generator)
    y = torch.tanh(x @ torch.randn(12, 12, generator=generator))
    assert kernel_cka(x, y, minibatch=500) == pytest.approx(linear_cka(x, y), abs=0.03)


def layered(n_sentences=20, seed=0):
    generator = torch.Generator().manual_seed(seed)
    base = torch.randn(n_sentences * 5, 8, generator=generator)
    values = torch.stack(
        [
            base,
            base @ torch.randn(8, 8, generator=generator),
            torch.randn(n_sentences * 5, 8, generator=generator),
        ]
    )
    sentences = tuple(Sentence(tuple(f"w{i}" for i in range(5)), (-1,) * 5, ("x",) * 5)
                      for _ in range(n_sentences))  # fmt: skip
    return Activations(values, ("embeddings", "layer 1", "layer 2"),
                       tuple(w for s in sentences for w in s.words),
                       torch.arange(n_sentences).repeat_interleave(5), sentences,
                       Pooling.WORD_MEAN)  # fmt: skip


def test_the_layer_by_layer_matrix(tmp_path):
    acts = layered()
    for method in Method:
        result = similarity_matrix(acts, method=method, progress=False)
        assert result.matrix.diagonal().sub(1).abs().max() < 1e-5, method
        if method is not Method.PWCCA:
            torch.testing.assert_close(result.matrix, result.matrix.T)
        assert result.matrix[0, 2] < 0.5 < result.matrix[0, 1]
    result.save(tmp_path / "sim")
    loaded = load_result(tmp_path / "sim")
    assert isinstance(loaded, Similarity) and loaded.method == "pwcca"
    assert len(loaded.to_dataframe()) == 9
    across = similarity_matrix(acts, layered(seed=0), progress=False, max_units=60)
    assert across.n_units == 60 and across.matrix.shape == (3, 3)
    with pytest.raises(MechscopeError, match="different units"):
        similarity_matrix(acts, layered(n_sentences=10), progress=False)


def test_projections_pca_matches_scikit_learn_and_others_draw(tmp_path):
    from sklearn.decomposition import PCA

    acts = layered()
    labels = [f"c{i % 3}" for i in range(100)]
    result = project(acts, labels, boundaries=[1], max_points=50, seed=0)
    assert result.coordinates.shape == (1, 50, 2) and len(set(result.labels)) == 3
    assert result.context[0] == "w0 w1 w2 w3 w4"
    reference = PCA(2).fit(acts.layer(1).numpy())
    full = project(acts, labels, boundaries=[1], max_points=1000)
    ours = full.coordinates[0].double()
    theirs = torch.from_numpy(reference.transform(acts.layer(1).numpy())).double()
    torch.testing.assert_close(ours.abs(), theirs.abs(), atol=1e-4, rtol=1e-4)  # up to sign
    torch.testing.assert_close(full.explained[0].double(),
                               torch.from_numpy(reference.explained_variance_ratio_).double(),
                               atol=1e-5, rtol=1e-5)  # fmt: skip
    tsne = project(acts, labels, boundaries=[0, 2], method=ProjectionMethod.TSNE)
    assert tsne.coordinates.shape == (2, 100, 2) and tsne.explained.isnan().all()
    tsne.save(tmp_path / "p")
    assert isinstance(load_result(tmp_path / "p"), Projection)
    with pytest.raises(MechscopeError, match="do not align"):
        project(acts, labels[:5])


def test_cca_on_too_few_units_per_feature_is_refused():
    wide = layered(n_sentences=4)  # 20 units of 8 features: 2.5 per feature
    for method in (Method.SVCCA, Method.PWCCA):
        with pytest.raises(MechscopeError, match=r"degenerate.*at least 40 units"):
            similarity_matrix(wide, method=method, progress=False)
    assert similarity_matrix(wide, method=Method.CKA, progress=False).n_units == 20
