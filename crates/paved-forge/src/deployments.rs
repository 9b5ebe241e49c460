//! Deployments on GitHub (deployments + statuses) and GitLab (deployments), for paved-change.
