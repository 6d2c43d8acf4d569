"""Ray: a real local cluster (2 CPUs, 127.0.0.1 only) loads models through kerascope.ray.

One cluster serves the module. Its job ships ``pkg.keras``'s pinned sources through
``kerascope.ray.runtime_env``; ``blocks.keras``'s sources are not shipped, so workers find them
only in the driver's directory, as on a shared file system. Each test has a time limit.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Ray binds its processes to the loopback address only when it thinks clusters are disabled.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")
np = pytest.importorskip("numpy")

import kerascope  # noqa: E402
import kerascope.ray  # noqa: E402
from tests.worker_models import built, private_copy  # noqa: E402

pytestmark = pytest.mark.slow

TIME_LIMIT_S = 420


class Cluster:
    def __init__(self, models: Path, shipped: kerascope.ModelRef, env: dict[str, Any]) -> None:
        self.models = models
        self.shipped = shipped
        self.env = env


@pytest.fixture(autouse=True)
def _time_limit() -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"a Ray test took more than {TIME_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIME_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return private_copy(built(tmp_path_factory), tmp_path_factory.mktemp("ray") / "models")


@pytest.fixture(scope="module")
def cluster(models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # Two xdist workers never run a cluster at once on this 2-core machine.
    lock_path = tmp_path_factory.getbasetemp().parent / "ray_cluster.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shipped = kerascope.ModelRef(models / "pkg.keras", sources=[models / "pkg_src"])
        env = kerascope.ray.runtime_env(
            shipped,
            {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}},
            staging_dir=str(tmp_path_factory.mktemp("ship")),
        )
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=200 * 1024 * 1024,
            log_to_driver=False,
            runtime_env=dict(env),  # Ray replaces its py_modules with the uploaded URIs
        )
        try:
            yield Cluster(models, shipped, env)
        finally:
            ray.shutdown()


def test_two_actors_load_the_shipped_package_and_predict_as_the_driver(cluster: Cluster) -> None:
    models = cluster.models
    rows = np.load(models / "inputs.npy")
    expected = cluster.shipped.load().predict(rows, verbose=0)
    (shipped_dir,) = cluster.env["py_modules"]
    assert sorted(
        os.path.relpath(os.path.join(folder, name), os.path.dirname(shipped_dir))
        for folder, _, names in os.walk(shipped_dir)
        for name in names
    ) == ["mypkg/__init__.py", "mypkg/helpers.py", "mypkg/layers.py", "mypkg/ops.py"]

    @ray.remote(num_cpus=1)
    class Probe:
        def __init__(self, ref: kerascope.ModelRef) -> None:
            self.model = kerascope.ray.load(ref)

        def run(self, rows: Any) -> dict[str, Any]:
            return {
                "pid": os.getpid(),
                "predictions": self.model.predict(rows, verbose=0),
                "files": [sys.modules[m].__file__ for m in ("mypkg.layers", "mypkg.ops")],
                "unused": "mypkg.unused" in sys.modules,
            }

    actors = [Probe.remote(cluster.shipped) for _ in range(2)]
    with kerascope.ray.unwrap_errors():
        results = ray.get([actor.run.remote(rows) for actor in actors], timeout=TIME_LIMIT_S)
    for actor in actors:
        ray.kill(actor)
    assert len({result["pid"] for result in results}) == 2
    original = str(models / "pkg_src")
    for result in results:
        np.testing.assert_allclose(result["predictions"], expected, rtol=1e-6, atol=1e-6)
        assert result["unused"] is False
        for file in result["files"]:
            assert not file.startswith(original + os.sep), file  # the shipped copy
            assert f"{os.sep}py_modules_files{os.sep}" in file, file

    # The same model through Ray Data: two actors of kerascope.ray.Predict.
    dataset = ray.data.from_numpy(np.array_split(rows, 4))  # 4 blocks
    with kerascope.ray.unwrap_errors():
        out = kerascope.ray.predict(dataset, cluster.shipped, batch_size=16, actors=2).take_all()
    by_row = {tuple(row["data"].tolist()): row["prediction"] for row in out}
    assert len(by_row) == len(rows)
    predictions = np.stack([by_row[tuple(row.tolist())] for row in rows])
    np.testing.assert_allclose(predictions, expected, rtol=1e-6, atol=1e-6)


def test_a_source_changed_after_the_ref_fails_the_job_with_the_kerascope_error(
    cluster: Cluster,
) -> None:
    models = cluster.models
    ref = kerascope.ModelRef(models / "blocks.keras", sources=[models / "mod_src"])
    blocks = models / "mod_src/blocks.py"
    original = blocks.read_text()
    blocks.write_text(original + "# changed after the ref was made\n")
    try:
        # On the driver: shipping it is refused.
        with pytest.raises(kerascope.UnresolvedObjectsError) as on_driver:
            kerascope.ray.runtime_env(ref)
        assert str(blocks) in str(on_driver.value)
        # On the workers (sharing this file system; not shipped): every actor refuses to load,
        # and the driver gets the same error, not a remote traceback.
        dataset = ray.data.from_numpy(np.load(models / "inputs.npy"))
        with (
            pytest.raises(kerascope.UnresolvedObjectsError) as on_worker,
            kerascope.ray.unwrap_errors(),
        ):
            kerascope.ray.predict(dataset, ref, actors=1).take_all()
    finally:
        blocks.write_text(original)
    error = on_worker.value
    assert type(error) is kerascope.UnresolvedObjectsError
    assert [(p.key, p.kind, p.reason) for p in error.problems] == [
        ("blocks", "source file", "changed")
    ]
    assert str(blocks) in error.problems[0].message
    assert str(error).startswith(f"{models / 'blocks.keras'} cannot be loaded: 1 problem")
    assert "Traceback" not in str(error) and "kerascope-error" not in str(error)


def test_a_model_needing_an_untrusted_package_fails_on_the_driver_before_any_task(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # blocks is importable here, as an installed package would be, and the file names the
    # module blocks: without trust=["blocks"], making the ref refuses it, before Ray is used.
    monkeypatch.syspath_prepend(str(models / "mod_src"))
    with pytest.raises(kerascope.UnresolvedObjectsError) as caught:
        ref = kerascope.ModelRef(models / "blocks.keras")
        dataset = ray.data.from_numpy(np.zeros((4, 4), dtype="float32"))  # never reached
        kerascope.ray.predict(dataset, ref).take_all()
    assert type(caught.value) is kerascope.UnresolvedObjectsError
    assert [(p.key, p.reason) for p in caught.value.problems] == [("blocks>Offset", "untrusted")]
    raised_in = [str(entry.path) for entry in caught.traceback]
    assert raised_in[-1].endswith(os.path.join("kerascope", "_keras", "ref.py"))
    ray_package = os.path.dirname(ray.__file__) + os.sep
    assert not any(name.startswith(ray_package) for name in raised_in)

    trusted = kerascope.ModelRef(models / "blocks.keras", trust=["blocks"])
    assert [(f.module, f.shipped) for f in trusted.files] == [("blocks", False)]
    assert "py_modules" not in kerascope.ray.runtime_env(trusted)  # workers must install it


def test_a_bundled_model_runs_on_workers_with_only_its_digest_trusted(
    cluster: Cluster, tmp_path: Path
) -> None:
    models = cluster.models
    bundled = tmp_path / "bundled.keras"
    manifest = kerascope.bundle(models / "blocks.keras", bundled, sources=[models / "mod_src"])
    assert manifest.bundle is not None
    digest = manifest.bundle.trust_name
    # The sources are not on any sys.path, not shipped: only the file's bundle has them.
    with pytest.raises(kerascope.UnresolvedObjectsError) as untrusted:
        kerascope.ModelRef(bundled)
    assert digest in str(untrusted.value)
    ref = kerascope.ModelRef(bundled, trust=[digest])
    assert f"sha256:{ref.bundle_digest}" == digest
    assert ref.files == ()
    assert "py_modules" not in kerascope.ray.runtime_env(ref)  # ships nothing
    rows = np.load(models / "inputs.npy")

    @ray.remote(num_cpus=1)
    class Probe:
        def __init__(self, ref: kerascope.ModelRef) -> None:
            self.model = kerascope.ray.load(ref)

        def run(self, rows: Any) -> dict[str, Any]:
            module = sys.modules["blocks"]
            return {
                "predictions": self.model.predict(rows, verbose=0),
                "origin": module.__spec__.origin,
                "file": getattr(module, "__file__", None),
            }

    actors = [Probe.remote(ref) for _ in range(2)]
    with kerascope.ray.unwrap_errors():
        results = ray.get([actor.run.remote(rows) for actor in actors], timeout=TIME_LIMIT_S)
    for actor in actors:
        ray.kill(actor)
    expected = ref.load().predict(rows, verbose=0)  # the driver, from the bundle too
    # The driver's Keras now has blocks>Offset registered (the bundled code ran here): a ref
    # made now still takes it from the bundle, for the workers' sake.
    again = kerascope.ModelRef(bundled, trust=[digest])
    assert [r.origin for r in again.plan.resolutions] == ["bundle"]
    assert again.bundle_digest == ref.bundle_digest and again.plan.bundled == ("blocks",)
    for result in results:
        np.testing.assert_allclose(result["predictions"], expected, rtol=1e-6, atol=1e-6)
        assert result["origin"].startswith(f"<kerascope bundle {digest[:19]}>"), result
        assert result["file"] is None  # from memory, never from a file
