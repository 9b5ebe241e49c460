//! The `file` backend: the evidence bundle is the record.

use super::{Approval, Backend, Kind, Opened, Outcome, State};
use crate::bundle::Bundle;
use crate::error::{Error, Result};

/// The bundle file is the record. Records are approved when opened: there is no approver, and
/// editing `record.state` to `rejected` or `cancelled` stops a `wait`.
#[derive(Debug)]
pub struct FileBackend {
    /// The records directory.
    pub records: std::path::PathBuf,
}

impl Backend for FileBackend {
    fn kind(&self) -> Kind {
        Kind::File
    }

    fn open(&self, bundle: &Bundle) -> Result<Opened> {
        let path = crate::bundle::record_path(&self.records, &bundle.id);
        let existing = path.exists().then(|| Bundle::load(&path)).transpose()?;
        Ok(Opened {
            id: bundle.id.clone(),
            number: bundle.id.clone(),
            url: None,
            // `open` writes the evidence before asking the backend; a record without an id is
            // that evidence, not a record made earlier.
            created: existing.is_none_or(|e| e.record.id.is_empty()),
            approval: Approval::Approved,
        })
    }

    fn state(&self, id: &str) -> Result<State> {
        let path = crate::bundle::record_path(&self.records, id);
        if !path.exists() {
            return Err(Error::usage(
                format!(
                    "there is no change record `{id}` in `{}`",
                    self.records.display()
                ),
                "pass the `change-id` that `paved-change open` printed, and the same `--records` directory",
            ));
        }
        let b = Bundle::load(&path)?;
        let approval = match b.record.state.as_str() {
            "rejected" => Approval::Rejected,
            "cancelled" | "canceled" => Approval::Cancelled,
            "pending" => Approval::Pending,
            _ => Approval::Approved,
        };
        Ok(State {
            approval,
            label: b.record.state,
        })
    }

    fn close(&self, id: &str, _: Outcome, _: &str, _: Option<&Bundle>) -> Result<()> {
        // The record file itself is updated by the caller.
        self.state(id).map(|_| ())
    }
}
