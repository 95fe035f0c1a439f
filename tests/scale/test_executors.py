"""The scale tier (`make scale`): sharded jobs on worker processes and a local Ray cluster.

Out of the default suite: spawned workers each import torch and load the model (about 5 s a
pool here) and a local Ray cluster takes 10-25 s to start. Each job must equal its
one-process result (`tests.jobs_sharded`); a killed worker is replaced and its shard rerun;
a failing shard is named.
"""

import importlib.util

import pytest

from mechscope.core import MechscopeError
from mechscope.executors import Executor, ExecutorKind, ModelRecipe, keep_workers, map_shards
from tests.jobs_sharded import (
    SPEC,
    check_collect,
    check_diagnose,
    check_fold,
    check_heads_and_syntax,
    check_patching,
    check_read_sites,
    dying_task,
    failing_task,
    where_task,
)

LOCAL = Executor(ExecutorKind.LOCAL, workers=2)
RAY = Executor(ExecutorKind.RAY, workers=2)
EXECUTORS = [pytest.param(LOCAL, id="processes")]
if importlib.util.find_spec("ray") is not None:
    EXECUTORS.append(pytest.param(RAY, id="ray"))


@pytest.fixture(scope="module")
def model():
    return ModelRecipe(SPEC).load()


@pytest.fixture(scope="module", params=EXECUTORS)
def executor(request):
    if request.param.kind is ExecutorKind.RAY:  # one local cluster for the module's jobs
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        yield request.param
        ray.shutdown()
    else:
        yield request.param


def test_head_scores_and_syntax(model, executor, tmp_path):
    check_heads_and_syntax(model, executor, tmp_path)


def test_activations(model, executor, tmp_path):
    check_collect(model, executor, tmp_path)


def test_diagnostics(model, executor, tmp_path):
    check_diagnose(model, executor, tmp_path)


def test_fold_in_shard_order(executor):
    check_fold(executor)


def test_patching(model, executor):
    check_patching(model, executor)


def test_sae_activations(model, executor):
    check_read_sites(model, executor)


def test_sae_train_on_two_workers_trains_the_same_sae(tmp_path):

    from mechscope.cli import main
    from mechscope.features import load_sae

    for workers in ("1", "2"):
        argv = ["sae", "train", SPEC, "--layers", "1", "--out", str(tmp_path / workers),
                "--k", "8", "--width", "128", "--tokens", "8192", "--read-tokens", "4000",
                "--batch-size", "512", "--eval-tokens", "500", "--workers", workers]  # fmt: skip
        assert main(argv) == 0
    one, two = (load_sae(tmp_path / w / "resid_post-1") for w in ("1", "2"))
    assert float((one.W_dec - two.W_dec).abs().max()) < 1e-4


def test_kept_workers_serve_every_call_and_load_each_model_once(executor):
    from mechscope.core.processes import process_alive

    recipe, twin = ModelRecipe(SPEC), ModelRecipe(SPEC, random_init_seed=1)
    with keep_workers():
        first = map_shards(where_task, range(6), recipe, executor, progress=False)
        second = map_shards(where_task, range(6), recipe, executor, progress=False)
        other = map_shards(where_task, range(6), twin, executor, progress=False)
    pids = {pid for pid, _ in first}
    assert len(pids) == 2 and {pid for pid, _ in second + other} == pids  # the same two
    models = {pid: {m for p, m in first if p == pid} for pid in pids}
    assert all(len(m) == 1 for m in models.values())  # one model object per worker...
    assert all({m for p, m in second if p == pid} == models[pid] for pid in pids)  # ...kept
    assert not {m for _, m in other} & {m for _, m in first}  # the twin is another model
    if executor.kind is ExecutorKind.LOCAL:
        import time

        time.sleep(1)
        assert not [pid for pid in pids if process_alive(pid)]  # gone with the block
    # outside a block each call starts (and stops) its own workers
    again = map_shards(where_task, range(4), recipe, executor, progress=False)
    assert not {pid for pid, _ in again} & pids


def test_a_failing_shard_is_named(executor):
    with pytest.raises(MechscopeError, match="shard 2 failed: ValueError: bad shard contents"):
        map_shards(failing_task, [0, 1, 2, 3], ModelRecipe(SPEC), executor, progress=False)


def test_a_killed_worker_is_replaced_and_its_shard_rerun(executor, tmp_path):
    marker = str(tmp_path / "died")
    shards = [(i, marker) for i in range(4)]
    assert map_shards(dying_task, shards, ModelRecipe(SPEC), executor, progress=False) == [
        0, 10, 20, 30,
    ]  # fmt: skip
    assert (tmp_path / "died").exists()  # it did die once


def test_a_worker_that_keeps_dying_stops_the_job(tmp_path):
    never = Executor(ExecutorKind.LOCAL, workers=2, retries=0)
    shards = [(i, str(tmp_path / "died")) for i in range(4)]
    with pytest.raises(MechscopeError, match="shard 1: its worker died 1 times"):
        map_shards(dying_task, shards, ModelRecipe(SPEC), never, progress=False)


def test_the_heads_command_on_two_workers_writes_what_one_process_writes(tmp_path):
    import torch

    from mechscope.cli import main
    from mechscope.core.results import load_result
    from tests.treebank import write_treebank

    treebank = str(write_treebank(tmp_path / "tb.conllu", n=30))
    for workers in ("1", "2"):
        out = str(tmp_path / workers)
        assert main(["heads", SPEC, "--conllu", treebank, "--out", out, "--workers", workers]) == 0
    one, two = (load_result(tmp_path / w) for w in ("1", "2"))
    assert float((one.per_prompt - two.per_prompt).nan_to_num().abs().max()) < 1e-5
    syntax = [load_result(tmp_path / w / "syntax") for w in ("1", "2")]
    assert torch.equal(syntax[0].accuracy, syntax[1].accuracy)


def test_the_diagnose_command_on_two_workers_writes_what_one_process_writes(tmp_path):
    from mechscope.cli import main
    from mechscope.core.results import load_result
    from tests.jobs_sharded import assert_same_results
    from tests.treebank import write_treebank

    treebank = str(write_treebank(tmp_path / "tb.conllu", n=30))
    names = ("attention", "rank", "anisotropy", "gradients", "class-geometry")
    for workers in ("1", "2"):
        out = str(tmp_path / workers)
        argv = ["diagnose", SPEC, "--conllu", treebank, "--out", out, "--workers", workers]
        assert main([*argv, "--batch-size", "8"]) == 0
    one, two = ({name: load_result(tmp_path / w / name) for name in names} for w in ("1", "2"))
    assert_same_results(two, one)


INTERRUPTED = """
import sys
from mechscope.executors import Executor, ExecutorKind, ModelRecipe, keep_workers, map_shards
from tests.jobs_sharded import slow_task
if __name__ == "__main__":
    executor = Executor(ExecutorKind(sys.argv[2]), workers=2)
    map_shards(slow_task, [(i, sys.argv[1]) for i in range(6)], ModelRecipe("induction-2l"),
               executor, progress=False)
"""


@pytest.mark.parametrize("kind", ["local", "ray"])
def test_ctrl_c_stops_the_workers(kind, tmp_path):
    """SIGINT while shards run: the job raises KeyboardInterrupt and no worker outlives it."""
    import signal
    import subprocess
    import sys
    import time

    from mechscope.core.processes import process_alive

    if kind == "ray" and importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed")
    job = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(tmp_path), kind],
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 60
    while len(list(tmp_path.glob("*.pid"))) < 2 and time.time() < deadline:
        time.sleep(0.5)  # both workers are inside a shard
    assert len(list(tmp_path.glob("*.pid"))) == 2
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=30)
    assert job.returncode != 0 and "KeyboardInterrupt" in err
    workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
    time.sleep(2)
    assert not [pid for pid in workers if process_alive(pid)]


def test_workers_load_the_bridge_backend_and_patch_as_one_process(bridge_dirs):
    import mechscope as ms
    from mechscope.core import Component, every_site
    from mechscope.executors import sharded_patching

    path = str(bridge_dirs["llama-gqa"])
    recipe = ModelRecipe(path, backend="bridge")
    hooked = ms.load_model(path, device="cpu")
    pairs = ms.repeated_pairs(hooked, n_prompts=8)
    sites = every_site(Component.Z, hooked.cfg.n_layers, n_heads=hooked.cfg.n_heads)
    expected = ms.activation_patching(pairs.runs(hooked), sites, progress=False)
    got = sharded_patching(recipe, pairs, sites, LOCAL, shard_size=3, progress=False)
    assert float((got.values - expected.values).abs().max()) < 1e-5


def test_the_patch_command_on_two_workers_writes_what_one_process_writes(tmp_path):
    """Every component's sites in one sharded job, split back per component."""
    from mechscope.cli import main
    from mechscope.core.results import load_result

    for workers in ("1", "2"):
        out = str(tmp_path / workers)
        assert main(["patch", SPEC, "--task", "induction", "--out", out, "--workers", workers]) == 0
    for component in ("z", "resid_pre", "attn_out"):
        one, two = (load_result(tmp_path / w / component) for w in ("1", "2"))
        assert one.sites == two.sites
        assert float((one.values - two.values).abs().max()) < 1e-5
        assert abs(one.clean - two.clean) < 1e-5 and abs(one.corrupted - two.corrupted) < 1e-5
