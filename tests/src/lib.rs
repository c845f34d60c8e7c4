//! Test support for OpsAgent: the fixture cluster (`kube-fixture`) that speaks the Kubernetes API
//! over a YAML state. Integration tests live in `tests/it/`.

pub mod fixture;
pub mod k8sgpt;
pub mod model;
