//! `[change]`: settings for paved-change.

use serde::Deserialize;

/// `[change]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChangeConfig {
    /// Where change records go: `file`, `servicenow`, `github`, `gitlab` or `pagerduty`
    /// (default `file`).
    pub backend: Option<String>,
    /// The directory of evidence bundles / file records (default `.paved/changes`).
    pub records: Option<String>,
    /// JUnit XML globs for the test evidence.
    #[serde(default)]
    pub junit: Vec<String>,
    /// Environments that count as production (GitHub `production_environment`; default
    /// `["prod", "production"]`).
    pub production_environments: Option<Vec<String>>,
    /// `wait` gives up after this long, e.g. `"4h"` (default `1h`).
    pub timeout: Option<String>,
    /// `wait` polls this often, e.g. `"30s"` (default `30s`).
    pub interval: Option<String>,
    /// ServiceNow instance URL, e.g. `https://acme.service-now.com`.
    pub servicenow_url: Option<String>,
    /// ServiceNow `assignment_group` (name or sys_id) for new change requests.
    pub servicenow_assignment_group: Option<String>,
    /// ServiceNow change `type` (default `normal`).
    pub servicenow_type: Option<String>,
    /// ServiceNow `category` for new change requests.
    pub servicenow_category: Option<String>,
    /// PagerDuty Events API root (default `https://events.pagerduty.com`).
    pub pagerduty_url: Option<String>,
    /// Public keys (PEM files, relative to the repository root) `verify` checks a bundle's
    /// signature against when `--trusted-key` is not given.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use crate::config::PavedConfig;

    #[test]
    fn change_section_parses_and_rejects_unknown_keys() {
        let c = PavedConfig::parse(
            "[change]\nbackend = \"servicenow\"\nservicenow-url = \"https://x.service-now.com\"\njunit = [\"target/*.xml\"]\ntrusted-keys = [\"keys/release.pub.pem\"]\n",
        )
        .unwrap();
        assert_eq!(c.change.backend.as_deref(), Some("servicenow"));
        assert_eq!(c.change.junit, vec!["target/*.xml".to_owned()]);
        assert_eq!(
            c.change.trusted_keys,
            vec!["keys/release.pub.pem".to_owned()]
        );
        let err = PavedConfig::parse("[change]\nbackned = \"file\"\n").unwrap_err();
        assert!(err.contains("backned"), "{err}");
    }
}
