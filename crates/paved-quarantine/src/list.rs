//! `quarantine.toml`: the committed, reviewed list of quarantined tests.
//!
//! ```toml
//! # Tests skipped by CI while they are flaky. Reviewed like code.
//! [[test]]
//! id = "pytest|tests.test_app.TestLogin|test_login[chrome]"
//! variant = "linux"                      # optional: only this variant is quarantined
//! reason = "flaky: 4 of 40 runs failed; 2 same-commit flakes"
//! owner = "@acme/auth"
//! issue = "https://github.com/acme/app/issues/12"   # optional
//! added = 2026-11-22
//! expires = 2026-12-22
//! ```
//!
//! # The test id
//!
//! A [`TestId`]'s (suite, classname, name) is written as one string, `suite|classname|name`:
//! the three normalised parts joined by `|`. `|` was chosen because it almost never occurs in test
//! names, while the obvious alternatives do: `::` in every Rust test and nextest binary id, `/`
//! in go subtests and file paths, `.` in classnames, ` › ` in Playwright titles, `#` in rspec
//! descriptions. Inside a part, a literal `|` is written `\|` and a literal `\` is written `\\`;
//! any other `\` sequence is an error, so every id has exactly one reading. An empty part (a
//! report with no suite name) is allowed: `|tests.test_app|test_ok`.
//!
//! Each part is normalised like the JUnit parser does (surrounding whitespace trimmed, internal
//! runs of whitespace collapsed to one space), so a hand-written entry matches what was ingested.
//! The variant is not part of the id string: it is the entry's own `variant` key, and an entry
//! without one quarantines the test under every variant.
//!
//! # Dates
//!
//! `added` and `expires` are TOML local dates (`2026-11-22`; a quoted `"2026-11-22"` is accepted
//! too). An entry is expired from its `expires` day on ([`QuarantineEntry::is_expired`]).
//!
//! Unknown keys, missing keys, bad dates and duplicate entries are errors naming the line.
//! Edits ([`QuarantineList::add`], [`QuarantineList::remove`], [`QuarantineList::set_issue`])
//! go through `toml_edit`, so comments, ordering and formatting of untouched entries survive, and
//! [`QuarantineList::save`] writes atomically.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use paved_core::{Error, Result};
use toml::de::{DeTable, DeValue};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::model::TestId;

/// The name of the array of tables that holds the entries.
const KEY: &str = "test";
/// The keys an entry may have, in the order `update` writes them.
const ENTRY_KEYS: &[&str] = &[
    "id", "variant", "reason", "owner", "issue", "added", "expires",
];

/// One quarantined test.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineEntry {
    /// The test, as `suite|classname|name` (see the module docs for escaping).
    pub id: String,
    /// Only this variant is quarantined; `None` means every variant.
    pub variant: Option<String>,
    /// Why it is quarantined (evidence, in a sentence).
    pub reason: String,
    /// Who must fix it (a CODEOWNERS owner such as `@org/team`, or a person).
    pub owner: String,
    /// The tracking issue's URL.
    pub issue: Option<String>,
    /// When it was quarantined.
    pub added: Date,
    /// When the quarantine lapses: from this day on the entry is expired.
    pub expires: Date,
}

impl QuarantineEntry {
    /// Whether the quarantine has lapsed on `today` (`today >= expires`).
    pub fn is_expired(&self, today: Date) -> bool {
        today >= self.expires
    }

    /// The (suite, classname, name) parts of [`QuarantineEntry::id`].
    pub fn parts(&self) -> Result<IdParts> {
        parse_id(&self.id).map_err(Error::Usage)
    }
}

/// The three parts of a test id, normalised and unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdParts {
    pub suite: String,
    pub classname: String,
    pub name: String,
}

impl IdParts {
    /// The parts of `id`, normalised.
    pub fn of(id: &TestId) -> IdParts {
        IdParts {
            suite: normalize(&id.suite),
            classname: normalize(&id.classname),
            name: normalize(&id.name),
        }
    }
}

impl fmt::Display for IdParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}",
            escape_part(&self.suite),
            escape_part(&self.classname),
            escape_part(&self.name)
        )
    }
}

/// Trim and collapse internal whitespace runs to one space (the JUnit parser's normalisation).
pub fn normalize(part: &str) -> String {
    // Most parts are already normal: one copy, no intermediate vector.
    let mut prev_space = true;
    let normal = part.chars().all(|c| {
        let ok = if c.is_whitespace() {
            c == ' ' && !prev_space
        } else {
            true
        };
        prev_space = c.is_whitespace();
        ok
    }) && !prev_space;
    if normal || part.is_empty() {
        return part.to_owned();
    }
    part.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn escape_part(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        if matches!(c, '|' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The list id of `id` (`suite|classname|name`, escaped; the variant is not part of it).
pub fn format_id(id: &TestId) -> String {
    IdParts::of(id).to_string()
}

/// Split a list id into its parts, unescaping and normalising them.
pub fn parse_id(id: &str) -> std::result::Result<IdParts, String> {
    // Without escapes the parts are the slices between the `|`s.
    if !id.contains('\\') {
        let mut split = id.split('|');
        if let (Some(suite), Some(classname), Some(name), None) =
            (split.next(), split.next(), split.next(), split.next())
        {
            let name = normalize(name);
            if name.is_empty() {
                return Err(format!("test id `{id}` has an empty test name"));
            }
            return Ok(IdParts {
                suite: normalize(suite),
                classname: normalize(classname),
                name,
            });
        }
    }
    parse_escaped_id(id)
}

/// [`parse_id`] for any id, escapes included.
fn parse_escaped_id(id: &str) -> std::result::Result<IdParts, String> {
    let mut parts = vec![String::new()];
    let mut chars = id.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('|' | '\\')) => parts.last_mut().expect("non-empty").push(e),
                Some(other) => {
                    return Err(format!(
                        "test id `{id}` has the escape `\\{other}`; only `\\|` and `\\\\` are allowed"
                    ));
                }
                None => return Err(format!("test id `{id}` ends with a lone `\\`")),
            },
            '|' => parts.push(String::new()),
            c => parts.last_mut().expect("non-empty").push(c),
        }
    }
    let [suite, classname, name]: [String; 3] = parts.try_into().map_err(|p: Vec<String>| {
        format!(
            "test id `{id}` has {} part(s); it must be `suite|classname|name` (write a literal `|` as `\\|`)",
            p.len()
        )
    })?;
    let name = normalize(&name);
    if name.is_empty() {
        return Err(format!("test id `{id}` has an empty test name"));
    }
    Ok(IdParts {
        suite: normalize(&suite),
        classname: normalize(&classname),
        name,
    })
}

/// The list's text as read, or the `toml_edit` document once it has been edited (so edits keep
/// its comments and layout, and a list that is only read never builds one).
#[derive(Debug, Clone)]
enum Doc {
    Text(String),
    Edited(DocumentMut),
}

/// The reviewed list, with the document it came from so edits keep its comments and layout.
#[derive(Debug, Clone)]
pub struct QuarantineList {
    path: PathBuf,
    doc: Doc,
    entries: Vec<QuarantineEntry>,
    keys: Vec<IdParts>,
    index: HashMap<IdParts, Vec<usize>>,
}

impl QuarantineList {
    /// Read and validate `path`. A missing file is an error; see [`QuarantineList::load_or_empty`].
    pub fn load(path: &Path) -> Result<QuarantineList> {
        match paved_core::fs::read_for_rewrite(path)? {
            Some(text) => Self::parse(&text, path),
            None => Err(paved_core::Error::Io {
                action: "read",
                path: path.to_owned(),
                source: std::io::ErrorKind::NotFound.into(),
            }),
        }
    }

    /// [`QuarantineList::load`], with a missing file read as an empty list (nothing quarantined).
    pub fn load_or_empty(path: &Path) -> Result<QuarantineList> {
        match paved_core::fs::read_for_rewrite(path)? {
            Some(text) => Self::parse(&text, path),
            None => Ok(Self::empty(path)),
        }
    }

    /// An empty list that [`QuarantineList::save`] will write to `path`.
    pub fn empty(path: &Path) -> QuarantineList {
        let mut doc = DocumentMut::new();
        doc.decor_mut().set_prefix(
            "# Quarantined tests: CI skips them (`paved-quarantine filter`) and the gate ignores their\n\
             # failures. `paved-quarantine update` adds and releases entries; review changes like code.\n\n",
        );
        QuarantineList {
            path: path.to_owned(),
            doc: Doc::Edited(doc),
            entries: Vec::new(),
            keys: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Parse the text of a list; `path` names it in errors and is where [`Self::save`] writes.
    ///
    /// Validation reads a borrowed, spanned tree (`toml`'s `DeTable`), which is small and quick:
    /// `filter` and `gate` only read the list. The editable `toml_edit` document is built from
    /// the same text on the first edit ([`Self::add`], [`Self::remove`], [`Self::set_issue`]).
    pub fn parse(text: &str, path: &Path) -> Result<QuarantineList> {
        let bad = |message: String| Error::BadFile {
            path: path.to_owned(),
            message,
        };
        // Line numbers from one pass over the text: an entry's line is a binary search, so a
        // list of 100k entries parses in linear time.
        let newlines: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
        let line_of = |span: Option<std::ops::Range<usize>>| -> usize {
            span.map_or(0, |s| newlines.partition_point(|&nl| nl < s.start) + 1)
        };
        let at = |span: Option<std::ops::Range<usize>>| match line_of(span) {
            0 => String::new(),
            n => format!("line {n}: "),
        };
        let parsed = DeTable::parse(text).map_err(|e| {
            bad(format!(
                "{}not valid TOML: {}",
                at(e.span()),
                e.message().trim_end()
            ))
        })?;
        let top = parsed.get_ref();
        // The map is sorted by key: report the first unknown key of the file, not of the alphabet.
        if let Some(key) = top
            .keys()
            .filter(|k| k.get_ref().as_ref() != KEY)
            .min_by_key(|k| k.span().start)
        {
            return Err(bad(format!(
                "{}unknown key `{}`; the list holds only `[[{KEY}]]` entries",
                at(Some(key.span())),
                key.get_ref()
            )));
        }
        let mut entries = Vec::new();
        if let Some(item) = top.get(KEY) {
            // An array of tables spans its first `[[test]]` header; an inline array spans `[`.
            let tables = match item.get_ref() {
                DeValue::Array(items) if text[item.span()].starts_with("[[") => Some(items),
                _ => None,
            };
            let Some(items) = tables else {
                return Err(bad(format!(
                    "{}`{KEY}` must be written as `[[{KEY}]]` tables, one per quarantined test",
                    at(Some(item.span()))
                )));
            };
            for table in items {
                let DeValue::Table(t) = table.get_ref() else {
                    return Err(bad(format!(
                        "{}`{KEY}` must be written as `[[{KEY}]]` tables, one per quarantined test",
                        at(Some(table.span()))
                    )));
                };
                let entry = parse_entry(t, table.span(), text, &at).map_err(bad)?;
                entries.push((entry, line_of(Some(table.span()))));
            }
        }
        let mut list = QuarantineList {
            path: path.to_owned(),
            doc: Doc::Text(text.to_owned()),
            entries: Vec::with_capacity(entries.len()),
            keys: Vec::with_capacity(entries.len()),
            index: HashMap::with_capacity(entries.len()),
        };
        let mut lines = Vec::with_capacity(entries.len());
        for (entry, line) in entries {
            let key = parse_id(&entry.id).map_err(|m| bad(format!("line {line}: {m}")))?;
            let same = list.index.get(&key).and_then(|at| {
                at.iter()
                    .copied()
                    .find(|&i| list.entries[i].variant == entry.variant)
            });
            if let Some(prev) = same.map(|i| lines[i]) {
                return Err(bad(format!(
                    "line {line}: test `{}`{} is already listed at line {prev}; remove one of the entries",
                    entry.id,
                    entry
                        .variant
                        .as_deref()
                        .map(|v| format!(" (variant `{v}`)"))
                        .unwrap_or_default()
                )));
            }
            list.push_entry(entry, key);
            lines.push(line);
        }
        Ok(list)
    }

    /// The editable document, parsed from the text on the first edit.
    fn doc_mut(&mut self) -> &mut DocumentMut {
        if let Doc::Text(text) = &self.doc {
            let doc = text
                .parse::<DocumentMut>()
                .expect("the text was validated as TOML when the list was read");
            self.doc = Doc::Edited(doc);
        }
        match &mut self.doc {
            Doc::Edited(doc) => doc,
            Doc::Text(_) => unreachable!("replaced above"),
        }
    }

    fn push_entry(&mut self, entry: QuarantineEntry, key: IdParts) {
        self.index
            .entry(key.clone())
            .or_default()
            .push(self.entries.len());
        self.keys.push(key);
        self.entries.push(entry);
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, key) in self.keys.iter().enumerate() {
            self.index.entry(key.clone()).or_default().push(i);
        }
    }

    /// Where the list lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[QuarantineEntry] {
        &self.entries
    }

    /// The parts of each entry's id, parallel to [`QuarantineList::entries`].
    pub fn parts(&self) -> &[IdParts] {
        &self.keys
    }

    /// The tests the entries name, for [`HistoryQuery::focus`](crate::store::HistoryQuery::focus)
    /// (an entry without a variant gives an empty variant: every variant).
    pub fn focus(&self) -> Vec<TestId> {
        self.entries
            .iter()
            .zip(&self.keys)
            .map(|(entry, parts)| TestId {
                suite: parts.suite.clone(),
                classname: parts.classname.clone(),
                name: parts.name.clone(),
                variant: entry.variant.clone().unwrap_or_default(),
            })
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry quarantining `id`: one for its variant if there is one, else one for every variant.
    pub fn matches(&self, id: &TestId) -> Option<&QuarantineEntry> {
        self.position(id).map(|i| &self.entries[i])
    }

    /// The index of the entry [`QuarantineList::matches`] returns.
    pub fn position(&self, id: &TestId) -> Option<usize> {
        let candidates = self.index.get(&IdParts::of(id))?;
        let variant = normalize(&id.variant);
        candidates
            .iter()
            .copied()
            .find(|&i| self.entries[i].variant.as_deref() == Some(variant.as_str()))
            .or_else(|| {
                candidates
                    .iter()
                    .copied()
                    .find(|&i| self.entries[i].variant.is_none())
            })
    }

    /// Append `entry` (its id must parse; an entry for the same test and variant must not exist).
    pub fn add(&mut self, entry: QuarantineEntry) -> Result<()> {
        let key = parse_id(&entry.id).map_err(Error::Usage)?;
        if self
            .index
            .get(&key)
            .is_some_and(|c| c.iter().any(|&i| self.entries[i].variant == entry.variant))
        {
            return Err(Error::Usage(format!(
                "test `{}` is already in `{}`",
                entry.id,
                self.path.display()
            )));
        }
        let mut table = Table::new();
        table.insert("id", toml_edit::value(entry.id.as_str()));
        if let Some(v) = &entry.variant {
            table.insert("variant", toml_edit::value(v.as_str()));
        }
        table.insert("reason", toml_edit::value(entry.reason.as_str()));
        table.insert("owner", toml_edit::value(entry.owner.as_str()));
        if let Some(issue) = &entry.issue {
            table.insert("issue", toml_edit::value(issue.as_str()));
        }
        table.insert("added", toml_edit::value(toml_date(entry.added)));
        table.insert("expires", toml_edit::value(toml_date(entry.expires)));
        let entries = self.entries.len();
        let doc = self.doc_mut();
        if entries > 0 || !doc.as_table().is_empty() {
            table.decor_mut().set_prefix("\n");
        }
        let aot = doc
            .entry(KEY)
            .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
            .as_array_of_tables_mut()
            .expect("validated as an array of tables");
        aot.push(table);
        self.push_entry(entry, key);
        Ok(())
    }

    /// Remove the entry at `index` (with the comments written just above it), returning it.
    /// Comments separated from the entry by a blank line (a file header, a section note) stay.
    pub fn remove(&mut self, index: usize) -> QuarantineEntry {
        let doc = self.doc_mut();
        let aot = doc
            .get_mut(KEY)
            .and_then(Item::as_array_of_tables_mut)
            .expect("an entry exists, so the array exists");
        let removed = aot.remove(index);
        let prefix = removed
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_owned();
        // Keep what is above the entry's own comment block: everything up to the last blank line.
        let kept = match prefix.trim_end_matches([' ', '\t']).rfind("\n\n") {
            Some(pos) => prefix[..pos + 2].to_owned(),
            None if !prefix.starts_with('#') && prefix.contains("\n\n") => prefix.clone(),
            None => String::new(),
        };
        let mut kept_for_trailing = None;
        if !kept.trim().is_empty() {
            if let Some(next) = aot.get_mut(index) {
                let own = next
                    .decor()
                    .prefix()
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .trim_start_matches('\n')
                    .to_owned();
                next.decor_mut().set_prefix(format!("{kept}{own}"));
            } else {
                kept_for_trailing = Some(kept);
            }
        }
        if aot.is_empty() {
            doc.remove(KEY);
        }
        if let Some(kept) = kept_for_trailing {
            let trailing = doc.trailing().as_str().unwrap_or("").to_owned();
            doc.set_trailing(format!("{kept}{trailing}"));
        }
        let entry = self.entries.remove(index);
        self.keys.remove(index);
        self.reindex();
        entry
    }

    /// Record the tracking issue of the entry at `index`.
    pub fn set_issue(&mut self, index: usize, url: &str) {
        let table = self
            .doc_mut()
            .get_mut(KEY)
            .and_then(Item::as_array_of_tables_mut)
            .and_then(|a| a.get_mut(index))
            .expect("an entry exists at index");
        if table.contains_key("issue") {
            table["issue"] = toml_edit::value(url);
        } else {
            // Keep the documented key order: issue goes after owner.
            let mut rebuilt = Table::new();
            *rebuilt.decor_mut() = table.decor().clone();
            rebuilt.set_position(table.position());
            for (k, v) in table.iter() {
                rebuilt.insert(k, v.clone());
                if k == "owner" {
                    rebuilt.insert("issue", toml_edit::value(url));
                }
            }
            if !rebuilt.contains_key("issue") {
                rebuilt.insert("issue", toml_edit::value(url));
            }
            *table = rebuilt;
        }
        self.entries[index].issue = Some(url.to_owned());
    }

    /// The file's text as it would be saved.
    pub fn render(&self) -> String {
        match &self.doc {
            Doc::Text(text) => text.clone(),
            Doc::Edited(doc) => doc.to_string(),
        }
    }

    /// Write the list to its path atomically.
    pub fn save(&self) -> Result<()> {
        paved_core::fs::write_atomic(&self.path, self.render().as_bytes())
    }
}

fn toml_date(d: Date) -> toml_edit::Datetime {
    toml_edit::Datetime {
        date: Some(toml_edit::Date {
            year: d.year().unsigned_abs(),
            month: d.month().unsigned_abs(),
            day: d.day().unsigned_abs(),
        }),
        time: None,
        offset: None,
    }
}

fn parse_entry(
    table: &DeTable<'_>,
    span: std::ops::Range<usize>,
    text: &str,
    at: &dyn Fn(Option<std::ops::Range<usize>>) -> String,
) -> std::result::Result<QuarantineEntry, String> {
    let here = at(Some(span));
    if let Some(key) = table
        .keys()
        .filter(|k| !ENTRY_KEYS.contains(&k.get_ref().as_ref()))
        .min_by_key(|k| k.span().start)
    {
        return Err(format!(
            "{}unknown key `{}` in a `[[{KEY}]]` entry; the keys are {}",
            at(Some(key.span())),
            key.get_ref(),
            ENTRY_KEYS
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let string = |key: &str, required: bool| -> std::result::Result<Option<String>, String> {
        match table.get(key) {
            None if required => Err(format!(
                "{here}the `[[{KEY}]]` entry has no `{key}`; every entry needs {}",
                "`id`, `reason`, `owner`, `added` and `expires`"
            )),
            None => Ok(None),
            Some(item) => match item.get_ref() {
                DeValue::String(s) => Ok(Some(s.as_ref().to_owned())),
                _ => Err(format!("{}`{key}` must be a string", at(Some(item.span())))),
            },
        }
    };
    let date = |key: &str| -> std::result::Result<Date, String> {
        let Some(item) = table.get(key) else {
            return Err(format!(
                "{here}the `[[{KEY}]]` entry has no `{key}` date (write it like `{key} = 2026-11-22`)"
            ));
        };
        let where_ = at(Some(item.span()));
        let invalid = |shown: String| {
            format!("{where_}`{key} = {shown}` is not a date; write it like `{key} = 2026-11-22`")
        };
        match item.get_ref() {
            DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => Date::new(
                    i16::try_from(d.year).map_err(|_| invalid(dt.to_string()))?,
                    i8::try_from(d.month).map_err(|_| invalid(dt.to_string()))?,
                    i8::try_from(d.day).map_err(|_| invalid(dt.to_string()))?,
                )
                .map_err(|_| invalid(dt.to_string())),
                _ => Err(invalid(dt.to_string())),
            },
            DeValue::String(s) => s
                .trim()
                .parse::<Date>()
                .map_err(|_| invalid(format!("\"{s}\""))),
            _ => Err(invalid(text[item.span()].trim().to_owned())),
        }
    };
    let entry = QuarantineEntry {
        id: string("id", true)?.unwrap_or_default(),
        variant: string("variant", false)?.filter(|v| !normalize(v).is_empty()),
        reason: string("reason", true)?.unwrap_or_default(),
        owner: string("owner", true)?.unwrap_or_default(),
        issue: string("issue", false)?.filter(|v| !v.trim().is_empty()),
        added: date("added")?,
        expires: date("expires")?,
    };
    if entry.expires < entry.added {
        return Err(format!(
            "{}`expires = {}` is before `added = {}`",
            at(table.get("expires").map(toml::Spanned::span)),
            entry.expires,
            entry.added
        ));
    }
    let entry = QuarantineEntry {
        variant: entry.variant.map(|v| normalize(&v)),
        ..entry
    };
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(suite: &str, classname: &str, name: &str, variant: &str) -> TestId {
        TestId {
            suite: suite.into(),
            classname: classname.into(),
            name: name.into(),
            variant: variant.into(),
        }
    }

    #[test]
    fn normalize_agrees_with_collapsing_every_whitespace_run() {
        for part in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "a b",
            "a  b",
            "a\tb",
            "a\nb",
            "\u{a0}a",
            "a\u{2003}b",
            "  a  b  ",
            "täst ñame",
            "x y z",
            "x  y",
            "x \t y",
        ] {
            let slow = part.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(normalize(part), slow, "{part:?}");
        }
    }

    #[test]
    fn ids_without_escapes_parse_as_the_escaping_reader_does() {
        for id in [
            "s|c|n",
            "|c|n",
            "s||n",
            " s | c  c |  n ",
            "a|b",
            "a|b|c|d",
            "a|b| ",
            "",
        ] {
            match (parse_id(id), parse_escaped_id(id)) {
                (Ok(f), Ok(g)) => assert_eq!(f, g, "{id}"),
                (Err(f), Err(g)) => assert_eq!(f, g, "{id}"),
                (f, g) => panic!("{id}: {f:?} vs {g:?}"),
            }
        }
    }

    #[test]
    fn ids_round_trip_with_escapes() {
        for t in [
            id("pytest", "tests.test_a", "test_x[a|b]", ""),
            id("paved-core::http", "paved-core::http", "tests::retry", ""),
            id("", "c", r"back\slash | pipe", ""),
        ] {
            let s = format_id(&t);
            let p = parse_id(&s).unwrap();
            assert_eq!(p, IdParts::of(&t), "{s}");
        }
        assert_eq!(
            format_id(&id("s", "c", r"a|b\c", "")),
            r"s|c|a\|b\\c".to_owned()
        );
        assert!(parse_id("a|b").is_err());
        assert!(parse_id("a|b|c|d").is_err());
        assert!(parse_id(r"a|b|c\n").is_err());
        assert!(parse_id("a|b|  ").is_err());
        assert_eq!(parse_id("  a |b|  c   d ").unwrap().name, "c d");
    }
}
