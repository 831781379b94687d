"""A real Kubernetes API server (k8s-envtest: etcd, kube-apiserver and kube-controller-manager 1.20 on 127.0.0.1)
for the session, a stand-in kubelet that runs pods as local processes, and the platform (`flowyard up`) with Kubernetes on.

The envtest script is `../shared/tools/k8s-envtest/k8s-envtest.sh` beside the repository, or FLOWYARD_K8S_ENVTEST;
without it these tests skip, or fail in CI (CI set), as the PostgreSQL leg does. It installs etcd itself when it is missing. Each session runs its own control plane
(own directory and ports), so parallel sessions do not share one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient

from tests.conftest import BACKENDS, Stack, _start_stack
from tests.support import free_port

ENVTEST_ENV = "FLOWYARD_K8S_ENVTEST"
DEFAULT_ENVTEST = Path(__file__).resolve().parents[2].parent / "shared/tools/k8s-envtest/k8s-envtest.sh"


@dataclass(frozen=True)
class Envtest:
    kubeconfig: str
    script: Path

    def client(self) -> DynamicClient:
        return DynamicClient(k8s_config.new_client_from_config(config_file=self.kubeconfig))


def _envtest_script() -> Path:
    script = Path(os.environ.get(ENVTEST_ENV) or DEFAULT_ENVTEST)
    if not script.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Kubernetes envtest script at {script}: CI runs tests/kube (set {ENVTEST_ENV})")
        pytest.skip(f"no Kubernetes envtest script at {script} (set {ENVTEST_ENV} to its path)")
    return script


@pytest.fixture(scope="session")
def envtest(tmp_path_factory) -> Iterator[Envtest]:
    script = _envtest_script()
    env = {
        **os.environ,
        "K8S_RUN": str(tmp_path_factory.mktemp("k8s-envtest")),
        "K8S_PORT": str(free_port()),
        "ETCD_PORT": str(free_port()),
    }
    started = subprocess.run([str(script), "start"], env=env, capture_output=True, text=True, timeout=900)
    if started.returncode != 0:
        subprocess.run([str(script), "stop"], env=env, capture_output=True, timeout=120)
        pytest.fail(f"k8s-envtest did not start:\n{started.stdout}\n{started.stderr}")
    kubeconfig = re.search(r"export KUBECONFIG=(\S+)", started.stdout)
    assert kubeconfig, started.stdout
    try:
        yield Envtest(kubeconfig.group(1), script)
    finally:
        subprocess.run([str(script), "stop"], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def kube(envtest) -> DynamicClient:
    return envtest.client()


@pytest.fixture(scope="session")
def kubelet(envtest, tmp_path_factory) -> Iterator[Path]:
    """process_kubelet.py MODE=exec: every pending pod's command runs as a local process, with PATH (this venv's
    first) and the pod's own environment only (its literal values and Secret references): a flow-run Job runs
    `prefect flow-run execute` with what its Secrets give it, and no database URL."""
    logs = tmp_path_factory.mktemp("kubelet")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    process = subprocess.Popen(
        [sys.executable, str(envtest.script.parent / "process_kubelet.py")],
        env={**os.environ, "PATH": path, "KUBECONFIG": envtest.kubeconfig, "MODE": "exec", "LOG_DIR": str(logs)},
        stdout=open(logs / "kubelet.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    yield logs  # a log per pod: <namespace>_<pod>.log
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session", params=BACKENDS)
def kube_stack(request, tmp_path_factory, envtest) -> Iterator[Stack]:
    """The platform as `flowyard up` starts it, reconciling workspaces on the envtest cluster. Each backend's
    platform has a namespace prefix of its own: a platform removes only its own orphaned namespaces. Tenants' Jobs
    (local processes here) reach the platform API on loopback."""
    api_port = free_port()
    yield from _start_stack(
        request,
        tmp_path_factory,
        extra_env={
            "FLOWYARD_API__PORT": str(api_port),
            "FLOWYARD_KUBERNETES__PLATFORM_API_URL": f"http://127.0.0.1:{api_port}",
            "FLOWYARD_KUBERNETES__ENABLED": "true",
            "FLOWYARD_KUBERNETES__KUBECONFIG": envtest.kubeconfig,
            "FLOWYARD_KUBERNETES__NAMESPACE_PREFIX": f"fy-{request.param}-t-",
            "KUBECONFIG": envtest.kubeconfig,
        },
    )
