"""A client of the configured Kubernetes cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient

from core.settings import KubernetesSettings


def kube_api(settings: KubernetesSettings) -> k8s.ApiClient:
    """A client of the configured cluster: the kubeconfig setting, else in-cluster, else KUBECONFIG."""
    if settings.kubeconfig:
        return k8s_config.new_client_from_config(config_file=str(settings.kubeconfig))
    configuration = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException:
        return k8s_config.new_client_from_config()
    return k8s.ApiClient(configuration)


@contextmanager
def cluster(settings: KubernetesSettings) -> Iterator[DynamicClient]:
    with kube_api(settings) as api:
        yield DynamicClient(api)
