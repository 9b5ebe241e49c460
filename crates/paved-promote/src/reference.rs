//! Image references: `registry/repo:tag`, `registry/repo@sha256:…`, and `oci:DIR[:TAG]` for an
//! OCI image layout directory.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::digest::Digest;

/// Where an image is, and which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The repository.
    pub location: Location,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The digest, if one was given (it wins over the tag for reading).
    pub digest: Option<Digest>,
}

/// A repository: in a registry, or an OCI image layout on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `registry/repository`.
    Registry {
        /// Host and port as written (`docker.io` for Docker Hub).
        registry: String,
        /// The repository name.
        repository: String,
    },
    /// An OCI image layout directory.
    Layout(PathBuf),
}

impl Location {
    /// Parse a repository without tag or digest (`registry/repo` or `oci:DIR`).
    pub fn parse(text: &str) -> Result<Location, String> {
        let r = Reference::parse(text)?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(format!(
                "`{text}` names a tag or digest; give only the repository (`registry/repository` or `oci:DIR`)"
            ));
        }
        Ok(r.location)
    }

    /// The registry host, for a registry location.
    pub fn registry(&self) -> Option<&str> {
        match self {
            Location::Registry { registry, .. } => Some(registry),
            Location::Layout(_) => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Registry {
                registry,
                repository,
            } => write!(f, "{registry}/{repository}"),
            Location::Layout(dir) => write!(f, "oci:{}", dir.display()),
        }
    }
}

impl Reference {
    /// Parse `text`. A leading `docker://` is accepted, as skopeo writes it.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("the image reference is empty".into());
        }
        let (rest, digest) = match trimmed.split_once('@') {
            Some((rest, d)) => (rest, Some(Digest::parse(d)?)),
            None => (trimmed, None),
        };
        if let Some(layout) = rest.strip_prefix("oci:") {
            // oci:DIR or oci:DIR:TAG: the tag is what follows the last `:` when that is a valid
            // tag, so `oci:/a:b/c` is a directory and `oci:out:v1` a tag in `out`.
            let (dir, tag) = match layout.rsplit_once(':') {
                Some((dir, tag)) if !dir.is_empty() && check_tag(tag, text).is_ok() => {
                    (dir, Some(tag.to_owned()))
                }
                _ => (layout, None),
            };
            if dir.is_empty() {
                return Err(format!("`{text}` names no directory; write `oci:DIR:TAG`"));
            }
            if leaves_working_tree(Path::new(dir)) {
                let tag_hint = match layout.rsplit_once(':') {
                    Some((_, t)) if t.contains('/') => format!(
                        " (`{t}` is not a tag: a tag has no `/`; write it as `{}`)",
                        t.replace('/', "-")
                    ),
                    _ => String::new(),
                };
                return Err(format!(
                    "`{text}` names the directory `{dir}`, which leaves the working directory through `..`{tag_hint}; give a directory inside it, or an absolute path"
                ));
            }
            return Ok(Reference {
                location: Location::Layout(PathBuf::from(dir)),
                tag,
                digest,
            });
        }
        let rest = rest.strip_prefix("docker://").unwrap_or(rest);
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag.to_owned())),
            _ => (rest, None),
        };
        if let Some(tag) = &tag {
            check_tag(tag, text)?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            Some(_) => ("docker.io".to_owned(), name.to_owned()),
            None => ("docker.io".to_owned(), format!("library/{name}")),
        };
        check_registry(&registry, text)?;
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repo {
            return Err(format!(
                "`{text}` is not a valid image reference: repository `{repository}` must be lower-case letters, digits, `.`, `_`, `-` and `/`"
            ));
        }
        Ok(Reference {
            location: Location::Registry {
                registry,
                repository,
            },
            tag,
            digest,
        })
    }

    /// The same repository with `tag` (and no digest).
    pub fn with_tag(location: &Location, tag: &str) -> Reference {
        Reference {
            location: location.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        }
    }
}

/// Whether a relative path climbs above where it starts (`a/../../b`); absolute paths are taken as
/// the user wrote them.
fn leaves_working_tree(dir: &Path) -> bool {
    use std::path::Component;
    let mut depth = 0usize;
    for component in dir.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return false,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            Component::Normal(_) => depth += 1,
        }
    }
    false
}

/// A tag as the distribution spec defines it: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
fn check_tag(tag: &str, text: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{text}` has an invalid tag `{tag}`: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        ))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// A registry is `host[:port]`: a host name (letters, digits, `-`, `.`) or a bracketed IPv6
/// address, and a port of digits. Anything else would display as another reference (a port
/// `oci:` reads back as a layout) or reach the HTTP client as a host it cannot mean.
fn check_registry(registry: &str, text: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        match rest.split_once(']') {
            Some((addr, after)) => {
                let ok = !addr.is_empty()
                    && addr
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b));
                if !ok {
                    return Err(format!(
                        "`{text}` names the registry `{registry}`, whose `[…]` is not an IPv6 address"
                    ));
                }
                // After `]`: nothing, or `:port` (checked below; `[::1]x` has an empty port).
                let port = match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').unwrap_or("")),
                };
                (None, port)
            }
            None => (Some(registry), None),
        }
    } else {
        match registry.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`{text}` names the registry `{registry}`, whose port is not a number; write `host:port/repository`"
        ));
    }
    if let Some(host) = host {
        let ok = !host.is_empty()
            && host.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            return Err(format!(
                "`{text}` names the registry `{}`, which is not a host name; a registry is \
                 `host[:port]` of letters, digits, `-` and `.` (or `[IPv6]`)",
                registry.escape_debug()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/`'s `oci_reference` target: `docker://oci:/o` read as registry `oci:`,
    /// which displays as the layout `oci:/o`.
    #[test]
    fn a_registry_port_must_be_a_number() {
        let err = Reference::parse("docker://oci:/o").unwrap_err();
        assert!(err.contains("port is not a number"), "{err}");
        assert!(Reference::parse("host:x/a").is_err());
        let r = Reference::parse("localhost:5000/a/b:v1").unwrap();
        assert_eq!(Reference::parse(&r.to_string()), Ok(r));
        assert!(Reference::parse("[::1]/a").is_ok());
        assert!(Reference::parse("[::1]:5000/a").is_ok());
    }

    /// Found by `fuzz/`'s `oci_reference` target: `docker://\v\v\v\v:[]/c:2` read as the registry
    /// `"\v\v\v\v:[]"`, which displayed trimmed and read back as another registry.
    #[test]
    fn a_registry_must_be_a_host_name() {
        for bad in [
            "docker://\u{b}\u{b}\u{b}\u{b}:[]/c:2",
            "docker://a..b:5000/c",
            "docker://[]/c",
            "docker://[zz]:1/c",
            "docker://ho st:1/c",
            "docker://h_st.io/c",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?}");
        }
        for good in [
            "ghcr.io/a/b",
            "my-registry.local:5000/a",
            "localhost/a",
            "[fe80::1]:443/a",
        ] {
            let r = Reference::parse(good).unwrap();
            assert_eq!(Reference::parse(&r.to_string()), Ok(r), "{good}");
        }
    }

    #[test]
    fn parses_references() {
        let r = Reference::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(r.location.registry(), Some("127.0.0.1:5000"));
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.to_string(), "127.0.0.1:5000/team/app:v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("localhost:5000/app@{d}")).unwrap();
        assert_eq!(r.digest.unwrap().as_str(), d);
        assert_eq!(r.tag, None);
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/alpine");
        let r = Reference::parse("oci:/tmp/x:y/layout:v2").unwrap();
        assert_eq!(r.location, Location::Layout("/tmp/x:y/layout".into()));
        assert_eq!(r.tag.as_deref(), Some("v2"));
        let r = Reference::parse("oci:rel/dir").unwrap();
        assert_eq!(r.tag, None);
        let r = Reference::parse("oci:out:v1.2_x-y").unwrap();
        assert_eq!(r.location, Location::Layout("out".into()));
        assert_eq!(r.tag.as_deref(), Some("v1.2_x-y"));
        let r = Reference::parse("oci:../sibling/dir:v1").unwrap_err();
        assert!(r.contains("leaves the working directory"), "{r}");
        let err = Reference::parse("oci:out:x/../../escaped").unwrap_err();
        assert!(
            err.contains("leaves the working directory") && err.contains("x-..-..-escaped"),
            "{err}"
        );
        let r = Reference::parse("oci:out:feature/x").unwrap();
        assert_eq!(
            r.location,
            Location::Layout("out:feature/x".into()),
            "inside the tree: a directory"
        );
        let r = Reference::parse("oci:a/../b:v1").unwrap();
        assert_eq!(r.location, Location::Layout("a/../b".into()));
        assert!(Reference::parse("oci:/abs/../x:v1").is_ok());
        assert!(
            Reference::parse(&format!("oci:out:{}", "a".repeat(129)))
                .is_ok_and(|r| r.tag.is_none())
        );
        assert!(Reference::parse("reg.io/App:v1").is_err());
        assert!(Reference::parse("reg.io/app:-x").is_err());
        assert!(Reference::parse("reg.io/app@sha256:zz").is_err());
    }
}
