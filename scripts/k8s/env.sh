# Pinned versions and fixed addresses of the Kubernetes end-to-end tests'
# cluster (sourced by scripts/k8s.sh and scripts/k8s/*.sh).

# k3s: the one version the Go proxy serves (tags answer 403): Kubernetes
# v1.35.1 with containerd 2.1.5.
K3S_MODULE_VERSION=v1.35.1-0.20260211145931-c5b158798933
K3S_VERSION=v1.35.1+k3s-c5b158798933
K3S_CONTAINERD_VERSION=v2.1.5-k3s1
# The Kubernetes fork k3s builds with (k3s's go.mod replace): its build/pause.
K3S_KUBERNETES_VERSION=v1.35.1-k3s1
PAUSE_VERSION=3.10
RUNC_VERSION=1.4.0
CRANE_VERSION=0.20.6
TEKTON_VERSION=1.15.0
KPACK_VERSION=0.17.2

# Every address below exists only inside the cluster's network namespace
# (scripts/k8s/node.sh makes it): the node's on a bridge with no port, the pods'
# on the CNI bridge. They are private (RFC 1918) addresses, to which
# go-containerregistry (kpack, the lifecycle, crane) speaks plain HTTP.
NODE_IP=10.41.0.1
REGISTRY="$NODE_IP:5000"
CLUSTER_CIDR=10.42.0.0/16
POD_CIDR=10.42.0.0/24
SERVICE_CIDR=10.43.0.0/16
