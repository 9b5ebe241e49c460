//! Issues on GitHub and GitLab (open, find, close), for paved-quarantine's `update --open-issues`.
