"""Where the shared datasets are found, and treebank samples spread over the file."""

from mechscope.data import DATA_ENV, data_root, dataset_dir
from mechscope.data.conllu import Sentence, sample_sentences


def test_the_data_setting_wins_then_a_shared_data_nearby(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "mine"))
    assert dataset_dir("sst2") == tmp_path / "mine" / "sst2"
    monkeypatch.delenv(DATA_ENV)
    (tmp_path / "project" / "shared" / "data").mkdir(parents=True)
    (tmp_path / "project" / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "project" / "notebooks")  # a kernel started in notebooks/
    assert data_root() == tmp_path / "project" / "shared" / "data"


def test_a_sample_is_spread_over_the_file_in_file_order():
    sentences = [Sentence((f"w{i}",), (-1,), ("root",), sent_id=str(i)) for i in range(1000)]
    sample = sample_sentences(sentences, 100, seed=3)
    ids = [int(s.sent_id) for s in sample]
    assert len(ids) == 100 and ids == sorted(ids) and ids[-1] > 900 and ids[0] < 100
    assert sample == sample_sentences(sentences, 100, seed=3)  # seeded
    assert sample_sentences(sentences, None) is sentences
