//! The bodies of paved's fuzz targets. Each takes any bytes, feeds them to one parser the way
//! paved reads that input, and checks a property that must hold for every input, not only that
//! nothing panics: the JUnit fast path changes nothing, one thread and many agree, a CHANGELOG
//! upsert is idempotent, an image reference round-trips through its display form.
//!
//! `fuzz/fuzz_targets/<name>.rs` hands libFuzzer's input to the body of the same name;
//! xtask's tests replay every file of `fuzz/corpus/<name>/` through [`TARGETS`] without
//! libFuzzer, so the seeds (and any crash input added to them) are checked on every CI run.
//!
//! Inputs with several parts (a template and a tag, a file and its new sections) split the
//! bytes at NUL bytes, see [`parts`].

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Every target: its name (the binary in `fuzz/fuzz_targets/` and the folder in
/// `fuzz/corpus/`) and its body.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("junit_fast", junit_fast),
    ("junit_parallel", junit_parallel),
    ("conventional", conventional),
    ("tag_template", tag_template),
    ("paved_toml", paved_toml),
    ("quarantine_toml", quarantine_toml),
    ("codeowners", codeowners),
    ("changelog_upsert", changelog_upsert),
    ("oci_reference", oci_reference),
    ("oci_manifest", oci_manifest),
    ("http_response", http_response),
    ("http_dates_link", http_dates_link),
    ("change_bundle", change_bundle),
];

/// `data` cut at its first `n - 1` NUL bytes into `n` parts (missing parts are empty).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |&b| b == 0).collect();
    out.resize(n, &[]);
    out
}

/// The text of `data` (lossy: parsers of text inputs are handed what a file read would give
/// after UTF-8 decoding; invalid bytes are refused before any of them runs).
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// JUnit: the word-at-a-time scanner for plain passes gives what quick-xml alone gives (the
/// same test results, counts and errors), for a read buffer of any size.
pub fn junit_fast(data: &[u8]) {
    let (cap, xml) = match data.split_first() {
        Some((&c, rest)) => (usize::from(c) + 1, rest),
        None => (1, data),
    };
    let reference = paved_junit::fuzzing::parse_with(xml, 64 * 1024, false);
    for (cap, plain) in [(64 * 1024, true), (cap, true), (cap, false)] {
        let got = paved_junit::fuzzing::parse_with(xml, cap, plain);
        match (&reference, &got) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "buffer {cap}, fast path {plain}"),
            (Err(a), Err(b)) => {
                assert_eq!(
                    a.to_string(),
                    b.to_string(),
                    "buffer {cap}, fast path {plain}"
                );
            }
            _ => panic!(
                "buffer {cap}, fast path {plain}: {:?} but the quick-xml path gives {:?}",
                got.as_ref().map(|r| r.1),
                reference.as_ref().map(|r| r.1)
            ),
        }
    }
}

/// Collects what a piece of a parallel parse hands on, as comparable values.
#[derive(Default)]
struct Pieces(
    Vec<(
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        Option<String>,
        Option<Vec<u8>>,
        String,
    )>,
);

impl paved_junit::Sink for Pieces {
    type Error = paved_core::Error;

    fn passed(&mut self, c: &paved_junit::CaseRef<'_>) -> Result<(), Self::Error> {
        self.0.push((
            c.suite.to_vec(),
            c.classname.to_vec(),
            c.name.to_vec(),
            c.file.map(str::to_owned),
            c.time.map(<[u8]>::to_vec),
            "passed".into(),
        ));
        Ok(())
    }

    fn other(
        &mut self,
        c: &paved_junit::CaseRef<'_>,
        attempts: Vec<paved_junit::Attempt>,
    ) -> Result<(), Self::Error> {
        self.0.push((
            c.suite.to_vec(),
            c.classname.to_vec(),
            c.name.to_vec(),
            c.file.map(str::to_owned),
            c.time.map(<[u8]>::to_vec),
            format!("{attempts:?}"),
        ));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl paved_junit::parallel::PieceSink for Pieces {}

/// JUnit: one file parsed whole on one thread and by three threads in small pieces (cut at
/// guesses that are often wrong) gives the same test cases in the same order, or an error both
/// times.
pub fn junit_parallel(data: &[u8]) {
    let (min_piece, xml) = match data.split_first() {
        Some((&c, rest)) => (u64::from(c) % 64 + 1, rest),
        None => (1, data),
    };
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file for the report");
    std::io::Write::write_all(&mut file, xml).expect("write the temporary report");
    let path = file.path();
    let len = xml.len() as u64;
    let run = |threads: usize, min_piece: u64| {
        paved_junit::parallel::parse_in_pieces(path, len, threads, min_piece, |_, _| {
            Pieces::default()
        })
        .map(|(sinks, cases)| {
            let all: Vec<_> = sinks.into_iter().flat_map(|s| s.0).collect();
            (all, cases)
        })
    };
    // The reference: the whole file as one piece, on this thread.
    let one = run(1, u64::MAX);
    let many = run(3, min_piece);
    match (&one, &many) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "pieces of at least {min_piece} bytes"),
        // The error's place may differ (a piece fails before the one that would), so only
        // that both fail is the property.
        (Err(_), Err(_)) => {}
        _ => panic!(
            "pieces of at least {min_piece} bytes: one thread gives {:?} cases, three give {:?}",
            one.as_ref().map(|r| r.1),
            many.as_ref().map(|r| r.1)
        ),
    }
}

/// Conventional commits: any message classifies, and the header is the message's first line.
pub fn conventional(data: &[u8]) {
    let message = text(data);
    let header = paved_core::conventional::header(&message);
    assert!(message.starts_with(header));
    assert!(!header.contains('\n'));
    if let paved_core::conventional::Classification::Conventional(c) =
        paved_core::conventional::classify(&message)
    {
        // ASCII lower-casing is what keys the rules (`feat`, `fix`, …); other letters are kept.
        assert_eq!(
            c.kind,
            c.kind.to_ascii_lowercase(),
            "the type is lower-cased"
        );
    }
}

/// Tag templates: a template either is refused or renders every version to a tag it parses
/// back to that version; any tag parses to a version that renders back to it... or to none.
pub fn tag_template(data: &[u8]) {
    let p = parts(data, 4);
    let (template, package, tag, version) = (text(p[0]), text(p[1]), text(p[2]), text(p[3]));
    let package = (!package.is_empty()).then_some(package.as_ref());
    let Ok(t) = paved_core::tag::TagTemplate::new(&template, package) else {
        return;
    };
    if let Some(v) = t.parse(&tag) {
        // The version part is exactly the text between prefix and suffix, so rendering it
        // again gives a tag that parses to the same version.
        assert_eq!(t.parse(&t.render(&v)), Some(v.clone()), "tag `{tag}`");
    }
    if let Ok(v) = semver::Version::parse(&version) {
        let rendered = t.render(&v);
        assert_eq!(
            t.parse(&rendered),
            Some(v),
            "template `{template}` renders `{rendered}`"
        );
    }
}

/// paved.toml: parsing and each section's validation decide, never panic.
pub fn paved_toml(data: &[u8]) {
    let Ok(config) = paved_core::config::PavedConfig::parse(&text(data)) else {
        return;
    };
    let _ = config.quarantine.validate();
    let _ = config.promote.validate();
    if let Some(template) = &config.version.tag_template {
        let _ = paved_core::tag::TagTemplate::new(template, None);
    }
    for p in &config.version.package {
        if let Some(template) = &p.tag {
            let _ = paved_core::tag::TagTemplate::new(template, Some(&p.name));
        }
    }
}

/// quarantine.toml: a list that parses renders to text that parses to the same entries, and
/// every entry is found by its own test id.
pub fn quarantine_toml(data: &[u8]) {
    use paved_quarantine::list::QuarantineList;
    let path = Path::new("quarantine.toml");
    let Ok(list) = QuarantineList::parse(&text(data), path) else {
        return;
    };
    let again = QuarantineList::parse(&list.render(), path).expect("a rendered list parses");
    assert_eq!(list.entries(), again.entries());
    for e in list.entries() {
        if let Ok(parts) = e.parts() {
            let _ = parts.to_string();
        }
    }
    let _ = list.focus();
}

/// CODEOWNERS: any file parses, and any path gets an answer.
pub fn codeowners(data: &[u8]) {
    let p = parts(data, 2);
    let owners = paved_quarantine::codeowners::CodeOwners::parse(&text(p[0]));
    let file = text(p[1]);
    for path in [file.as_ref(), "src/lib.rs", "docs/a b/c.md", "/", ""] {
        if let Some(o) = owners.owners_of(path) {
            assert!(!o.is_empty(), "a matching rule names owners for `{path}`");
        }
    }
}

/// CHANGELOG.md: upserting the same sections twice gives what upserting them once gives.
pub fn changelog_upsert(data: &[u8]) {
    let p = parts(data, 3);
    let existing = text(p[0]);
    let sections: Vec<String> = text(p[1])
        .split('\u{1}')
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
        .collect();
    let header = text(p[2]);
    let existing = (!existing.is_empty()).then_some(existing.as_ref());
    let once = paved_changelog::file::upsert(existing, &sections, &header);
    let twice = paved_changelog::file::upsert(Some(&once), &sections, &header);
    assert_eq!(
        once, twice,
        "a second upsert of the same sections changed the file"
    );
}

/// OCI references: a reference that parses displays as text that parses to the same
/// reference; digests the same.
pub fn oci_reference(data: &[u8]) {
    use paved_promote::reference::{Location, Reference};
    let input = text(data);
    if let Ok(r) = Reference::parse(&input) {
        let shown = r.to_string();
        let again = Reference::parse(&shown)
            .unwrap_or_else(|e| panic!("`{input}` displays as `{shown}`, which is refused: {e}"));
        assert_eq!(r, again, "`{input}` displays as `{shown}`");
        let _ = r.location.registry();
    }
    if let Ok(l) = Location::parse(&input) {
        let shown = l.to_string();
        assert_eq!(
            Location::parse(&shown).as_ref(),
            Ok(&l),
            "`{input}` shows as `{shown}`"
        );
    }
    if let Ok(d) = paved_promote::digest::Digest::parse(&input) {
        assert_eq!(
            paved_promote::digest::Digest::parse(d.as_str()).as_ref(),
            Ok(&d)
        );
        let _ = (d.hex(), d.short(), d.fallback_tag());
    }
}

/// OCI manifests: any bytes get a media type and a descriptor whose digest and size are those
/// of the bytes (they are never re-serialised).
pub fn oci_manifest(data: &[u8]) {
    use paved_promote::oci::{Manifest, ManifestView};
    let p = parts(data, 2);
    let served = std::str::from_utf8(p[0]).ok().filter(|s| !s.is_empty());
    let bytes = p[1].to_vec();
    let m = Manifest::new(bytes.clone(), served);
    let d = m.descriptor();
    assert_eq!(d.size, bytes.len() as u64);
    assert_eq!(d.digest, paved_promote::digest::Digest::of(&bytes));
    assert_eq!(m.bytes, bytes);
    if let Ok(view) = ManifestView::parse(&bytes) {
        let _ = (
            view.is_index(&m.media_type),
            view.blobs(),
            view.effective_artifact_type(),
        );
    }
    let _ = paved_promote::oci::media_type_of(&bytes, served);
}

/// HTTP responses: headers (`Retry-After`, rate limits, `Link`, `WWW-Authenticate`) and body
/// as a server may send them. The retry decision, the next page and the printed error never
/// panic, and a wait the server asked for in seconds is that many seconds.
pub fn http_response(data: &[u8]) {
    let p = parts(data, 3);
    let status = match p[0] {
        [a, b, ..] => 100 + u16::from_le_bytes([*a, *b]) % 500,
        _ => 429,
    };
    let headers: Vec<(String, String)> = text(p[1])
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let paved_core::http::fuzzing::Reading { retry, printed, .. } =
        paved_core::http::fuzzing::read_response(status, headers.clone(), p[2].to_vec(), now);
    assert!(
        printed.contains(&status.to_string()),
        "the error names the status: {printed}"
    );
    if let Some((_, wait, _)) = retry
        && let Some((_, v)) = headers.iter().find(|(k, _)| k == "retry-after")
        && let Ok(secs) = v.parse::<u64>()
    {
        assert_eq!(wait, Some(Duration::from_secs(secs)));
    }
    for (k, v) in &headers {
        if k == "www-authenticate" {
            let _ = paved_promote::oci::auth::parse_challenge(v);
        }
    }
}

/// Dates and `Link`: RFC 3339 and HTTP dates parse or not, a formatted time parses back to
/// itself, and every `Link` target found is the one `next_link` may pick.
pub fn http_dates_link(data: &[u8]) {
    use paved_core::http::{
        format_utc, next_link, parse_http_date, parse_link_header, parse_rfc3339,
    };
    let value = text(data);
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for t in [parse_rfc3339(&value), parse_http_date(&value)]
        .into_iter()
        .flatten()
    {
        assert!(t >= UNIX_EPOCH);
        let whole =
            UNIX_EPOCH + Duration::from_secs(t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        let shown = format_utc(t);
        assert_eq!(
            parse_rfc3339(&shown),
            Some(whole),
            "`{value}` formats as `{shown}`"
        );
    }
    let _ = paved_core::http::fuzzing::retry_after(&value, now);
    let _ = paved_core::http::fuzzing::retry_after(&value, SystemTime::UNIX_EPOCH);
    let links = parse_link_header(&value);
    if let Some(next) = next_link(&value) {
        assert!(
            links
                .iter()
                .any(|l| l.url == next && l.rel.iter().any(|r| r == "next")),
            "`next_link` picked `{next}`, not a rel=next link of {links:?}"
        );
    }
}

/// Change bundles: a bundle that loads is verified, and saved as `save` writes it, loads back
/// as the same bundle.
pub fn change_bundle(data: &[u8]) {
    use paved_change::bundle::{Bundle, verify};
    let Ok(b) = Bundle::parse(&text(data)) else {
        return;
    };
    let checks = verify(&b);
    assert!(!checks.is_empty());
    let saved = serde_json::to_string_pretty(&b).expect("a loaded bundle serialises");
    let again = Bundle::parse(&saved).unwrap_or_else(|e| panic!("a saved bundle is refused: {e}"));
    assert_eq!(b, again);
    assert_eq!(verify(&again), checks);
}
