//! GitHub and GitLab behind one [`Forge`] trait (work in progress).
