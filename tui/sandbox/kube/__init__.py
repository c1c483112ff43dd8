"""The simulated Kubernetes cluster and the API server in front of it."""
