//! `quarantine.toml`: the committed, reviewed list of quarantined tests.
