#!/usr/bin/env bash
# The kind end-to-end run, one step per subcommand, so every CI step can be run by hand.
# Needs: docker (with an engine), kind, kubectl, helm (tools/build-helm.sh builds one), the venv.
#
#   tools/e2e-kind.sh create-cluster   # kind cluster "dubbing-e2e", kubeconfig at $KUBECONFIG_PATH
#   tools/e2e-kind.sh build-images     # operator, webui, stage-cpu images tagged with the version
#   tools/e2e-kind.sh load-images      # kind load docker-image for each
#   tools/e2e-kind.sh fake-gpu         # make one worker advertise nvidia.com/gpu (status patch) and taint it
#   tools/e2e-kind.sh install-chart    # apply crds/, helm install with the e2e values, wait for rollout
#   tools/e2e-kind.sh test             # pytest against this cluster (DUBBING_KUBECONFIG)
#   tools/e2e-kind.sh collect-logs     # kubectl get/describe/logs into $LOG_DIR
#   tools/e2e-kind.sh delete-cluster
#   tools/e2e-kind.sh all              # every step above in order (logs collected on failure)
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${CLUSTER:-dubbing-e2e}"
KUBECONFIG_PATH="${KUBECONFIG_PATH:-$PWD/.e2e/kubeconfig}"
LOG_DIR="${LOG_DIR:-$PWD/.e2e/logs}"
NAMESPACE="${NAMESPACE:-dubbing}"
REGISTRY="${REGISTRY:-ghcr.io/dubbing-dev}"
VERSION="${VERSION:-$(tools/version.sh)}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.31.4}"
E2E_IMAGES="${E2E_IMAGES:-operator webui stage-cpu}"
GPU_RESOURCE="${GPU_RESOURCE:-nvidia.com/gpu}"
PYTHON="${PYTHON:-.venv/bin/python}"
HELM="${HELM:-$(command -v helm || tools/build-helm.sh)}"
export KUBECONFIG="$KUBECONFIG_PATH"

step_create_cluster() {
  mkdir -p "$(dirname "$KUBECONFIG_PATH")"
  cat > .e2e/kind.yaml <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
    labels: {dubbing.dev/e2e-role: cpu}
  - role: worker
    labels: {dubbing.dev/e2e-role: gpu}
YAML
  kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --config .e2e/kind.yaml \
    --kubeconfig "$KUBECONFIG_PATH" --wait 120s
  kubectl get nodes -o wide
}

step_build_images() {
  IMAGES="$E2E_IMAGES" REGISTRY="$REGISTRY" VERSION="$VERSION" tools/build-images.sh
}

step_load_images() {
  for name in $E2E_IMAGES; do
    kind load docker-image --name "$CLUSTER" "${REGISTRY}/dubbing-${name}:${VERSION}"
  done
}

step_fake_gpu() {
  # No GPU on CI hosts: the node advertises the extended resource (what the NVIDIA device plugin
  # would do) and carries the usual taint, so scheduling behaves as on a GPU cluster.
  local node
  node="$(kubectl get nodes -l dubbing.dev/e2e-role=gpu -o jsonpath='{.items[0].metadata.name}')"
  local escaped="${GPU_RESOURCE//\//~1}"
  kubectl patch node "$node" --subresource=status --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/status/capacity/${escaped}\",\"value\":\"1\"},{\"op\":\"add\",\"path\":\"/status/allocatable/${escaped}\",\"value\":\"1\"}]"
  kubectl taint node "$node" "${GPU_RESOURCE}=present:NoSchedule" --overwrite
  kubectl label node "$node" nvidia.com/gpu.present=true --overwrite
  kubectl get node "$node" -o jsonpath="{.status.allocatable}"; echo
}

step_install_chart() {
  kubectl apply --server-side -f crds/
  kubectl wait --for condition=established --timeout=60s -f crds/
  "$HELM" upgrade --install dubbing charts/dubbing --namespace "$NAMESPACE" --create-namespace \
    --values charts/dubbing/ci/e2e-kind-values.yaml \
    --set image.registry="$REGISTRY" --set image.tag="$VERSION" \
    --wait --timeout 5m
  kubectl -n "$NAMESPACE" get all
}

step_test() {
  DUBBING_KUBECONFIG="$KUBECONFIG_PATH" DUBBING_HELM="$HELM" \
    "$PYTHON" -m pytest -m "cluster and not gpu_backend" tests/ -v --timeout=900
}

step_collect_logs() {
  mkdir -p "$LOG_DIR"
  kubectl get nodes -o wide > "$LOG_DIR/nodes.txt" 2>&1 || true
  kubectl describe nodes > "$LOG_DIR/nodes-describe.txt" 2>&1 || true
  kubectl get all,dubbingjobs,events -A -o wide > "$LOG_DIR/all.txt" 2>&1 || true
  kubectl get dubbingjobs -A -o yaml > "$LOG_DIR/dubbingjobs.yaml" 2>&1 || true
  kubectl describe pods -A > "$LOG_DIR/pods-describe.txt" 2>&1 || true
  for ns in $(kubectl get ns -o jsonpath='{.items[*].metadata.name}'); do
    for pod in $(kubectl -n "$ns" get pods -o jsonpath='{.items[*].metadata.name}'); do
      kubectl -n "$ns" logs "$pod" --all-containers --prefix > "$LOG_DIR/${ns}_${pod}.log" 2>&1 || true
      kubectl -n "$ns" logs "$pod" --all-containers --previous > "$LOG_DIR/${ns}_${pod}.previous.log" 2>/dev/null || true
    done
  done
  kind export logs --name "$CLUSTER" "$LOG_DIR/kind" > /dev/null 2>&1 || true
  echo "logs in $LOG_DIR"
}

step_delete_cluster() {
  kind delete cluster --name "$CLUSTER"
}

run_all() {
  step_create_cluster
  trap 'step_collect_logs' ERR
  step_build_images
  step_load_images
  step_fake_gpu
  step_install_chart
  step_test
}

case "${1:-}" in
  create-cluster) step_create_cluster ;;
  build-images) step_build_images ;;
  load-images) step_load_images ;;
  fake-gpu) step_fake_gpu ;;
  install-chart) step_install_chart ;;
  test) step_test ;;
  collect-logs) step_collect_logs ;;
  delete-cluster) step_delete_cluster ;;
  all) run_all ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
