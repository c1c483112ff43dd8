"""Kubernetes through `kubernetes.aio`: the runbook's pods (kept current with a watch) and
a live log tail across all of them that survives rollouts and dropped streams.

``connection`` opens a kubeconfig context and sends the requests of ``calls`` over it;
``objects`` reads the API's answers; ``pods`` watches the runbook's pods and ``logs``
follows their logs."""
