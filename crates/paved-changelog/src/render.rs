//! Rendering release sections with handlebars: the built-in templates and custom ones.
//!
//! A template renders ONE release. Its context is that release's fields (see [`crate::context`])
//! plus `repository`. Templates run in strict mode, so a misspelt field is an error naming the
//! template and line, not an empty string. Nothing is HTML-escaped: the output is markdown or text.

use std::path::Path;

use handlebars::Handlebars;

use crate::context::{Release, Repository};
use crate::error::{Error, Result};

/// The built-in templates, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("markdown", include_str!("../templates/markdown.hbs")),
    ("github", include_str!("../templates/github.hbs")),
    ("gitlab", include_str!("../templates/gitlab.hbs")),
    ("plain", include_str!("../templates/plain.hbs")),
];

/// A compiled template.
#[derive(Debug)]
pub struct Renderer {
    registry: Handlebars<'static>,
    name: String,
}

impl Renderer {
    /// A built-in (`github`, `gitlab`, `markdown`, `plain`) or a template file.
    pub fn new(spec: &str) -> Result<Renderer> {
        let (name, source) = match BUILTIN.iter().find(|(n, _)| *n == spec) {
            Some((n, s)) => ((*n).to_owned(), (*s).to_owned()),
            None => {
                let path = Path::new(spec);
                if !path.exists() {
                    let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                    return Err(Error::Usage(format!(
                        "template `{spec}` is neither a built-in ({}) nor an existing file",
                        names.join(", ")
                    )));
                }
                (spec.to_owned(), paved_core::fs::read_to_string(path)?)
            }
        };
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry
            .register_template_string(&name, source)
            .map_err(|e| Error::Template {
                template: name.clone(),
                message: e.to_string(),
            })?;
        Ok(Renderer { registry, name })
    }

    /// Render one release.
    pub fn render(&self, release: &Release, repository: &Repository) -> Result<String> {
        // The release's fields at the top level, plus `repository`, converted to JSON once.
        #[derive(serde::Serialize)]
        struct View<'a> {
            #[serde(flatten)]
            release: &'a Release,
            repository: &'a Repository,
        }
        let text = self
            .registry
            .render(
                &self.name,
                &View {
                    release,
                    repository,
                },
            )
            .map_err(|e| Error::Template {
                template: self.name.clone(),
                message: render_message(&e),
            })?;
        Ok(tidy(&text))
    }
}

/// A render error as a person reads it: where, and the field named as written in the template
/// (handlebars' own text shows `Some("field")`).
fn render_message(e: &handlebars::RenderError) -> String {
    let place = match (e.line_no, e.column_no) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    };
    match e.reason() {
        handlebars::RenderErrorReason::MissingVariable(Some(field)) => {
            format!("{place}no field `{field}` in this release")
        }
        handlebars::RenderErrorReason::MissingVariable(None) => {
            format!("{place}a field the template reads does not exist in this release")
        }
        other => format!("{place}{other}"),
    }
}

/// Collapse runs of blank lines and end with exactly one newline, so templates can be written
/// readably without controlling every line break.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
