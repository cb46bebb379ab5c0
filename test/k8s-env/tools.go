//go:build tools

// Package k8senv pins the Kubernetes control-plane components that the Kubernetes test environment
// (scripts/k8s-testenv.sh) builds from source: etcd, kube-apiserver and kube-controller-manager, and kubectl
// where none is installed.
package k8senv

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
