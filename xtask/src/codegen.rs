//! `cargo xtask codegen`: files that mirror the code, generated from it.
//!
//! - The parts of the GitHub Actions and GitLab components that mirror the tools' command lines,
//!   from their clap definitions. Each tool is one line in [`TOOLS`]. For each, codegen rewrites
//!   the regions between `BEGIN GENERATED` and `END GENERATED` markers in
//!   - `actions/<tool>/action.yml`: the `inputs:` entries and the run step's `env:` (input ->
//!     `PAVED_*`);
//!   - `templates/<tool>/template.yml`: the `spec: inputs:` entries, the job's `variables:`, and
//!     the install + run script (embedded from `actions/setup/install.sh` and `run.sh`).
//!
//!   Everything outside the markers is written by hand. Components that run several commands
//!   (listed in [`SCRIPT_ONLY_TEMPLATES`], e.g. `templates/quarantine-loop`) get only the script.
//! - Whole files, listed in [`SCHEMAS`]: the JSON Schemas of the formats the tools write,
//!   derived from their types (`docs/change-bundle.schema.json`).
//!
//! `check` regenerates in memory and fails on drift, telling you to run `cargo xtask codegen`.

use std::fmt::Write as _;
use std::path::Path;

use clap::{ArgAction, CommandFactory};

/// A tool that has an action and a component.
#[derive(Debug)]
pub struct Tool {
    /// Folder name under `actions/` and `templates/`.
    pub dir: &'static str,
    /// The binary.
    pub bin: &'static str,
    /// Its clap command.
    pub command: fn() -> clap::Command,
}

/// Every tool, one line each.
#[rustfmt::skip]
pub const TOOLS: &[Tool] = &[
    Tool { dir: "version", bin: "paved-version", command: <paved_version::cli::Args as CommandFactory>::command },
    Tool { dir: "changelog", bin: "paved-changelog", command: <paved_changelog::cli::Args as CommandFactory>::command },
    Tool { dir: "quarantine", bin: "paved-quarantine", command: <paved_quarantine::Args as CommandFactory>::command },
    Tool { dir: "promote", bin: "paved-promote", command: <paved_promote::Args as CommandFactory>::command },
    Tool { dir: "change", bin: "paved-change", command: <paved_change::Args as CommandFactory>::command },
];

/// A file generated whole.
#[derive(Debug)]
pub struct Whole {
    /// Its path from the root.
    pub path: &'static str,
    /// Its text.
    pub text: fn() -> String,
}

/// Every file generated whole: the JSON Schemas of the formats the tools write.
#[rustfmt::skip]
pub const SCHEMAS: &[Whole] = &[
    Whole { path: "docs/change-bundle.schema.json", text: paved_change::bundle::schema_json },
];

/// Flags that make no sense in a pipeline step, left out of the generated inputs.
/// (`dotenv`: the GitLab component fixes it so the dotenv report can find the file.)
const GITLAB_SKIP: &[&str] = &["dotenv"];

/// How an input is passed to the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// Through its env twin.
    Env(String),
    /// The subcommand name (`PAVED_ACTION_COMMAND`).
    Command,
    /// Positional values, one per line (`PAVED_ACTION_ARGS_<n>`).
    Positional,
}

/// One generated input.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub description: String,
    pub default: Option<String>,
    pub required: bool,
    pub boolean: bool,
    pub options: Vec<String>,
    pub via: Via,
    /// The subcommands that take it (empty: the command itself, so all of them).
    pub only: Vec<String>,
}

impl Input {
    /// The description, naming the subcommands that take the input.
    pub fn text(&self) -> String {
        if self.only.is_empty() {
            self.description.clone()
        } else {
            let subs: Vec<String> = self.only.iter().map(|s| format!("`{s}`")).collect();
            format!("{} ({} only)", self.description, subs.join(", "))
        }
    }
}

/// The inputs of one tool, in the order clap lists them (the subcommand first, then the
/// top-level flags, then each subcommand's own).
pub fn inputs(tool: &Tool) -> Result<Vec<Input>, String> {
    let mut cmd = (tool.command)();
    cmd.build();
    let mut inputs = Vec::new();
    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
        .collect();
    if !subs.is_empty() {
        let names: Vec<String> = subs.iter().map(|s| s.get_name().to_owned()).collect();
        let required = cmd.is_subcommand_required_set();
        let mut options = names.clone();
        if !required {
            options.insert(0, String::new());
        }
        let list = subs
            .iter()
            .map(|s| {
                let about = s.get_about().map(one_line).unwrap_or_default();
                format!("`{}` ({})", s.get_name(), about.trim_end_matches('.'))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let description = if required {
            format!("Subcommand to run: {list}.")
        } else {
            format!("Subcommand to run, or empty for the default: {list}.")
        };
        inputs.push(Input {
            name: "command".into(),
            description,
            default: (!required).then(String::new),
            required,
            boolean: false,
            options,
            via: Via::Command,
            only: Vec::new(),
        });
    }
    add_args(tool, &cmd, None, &mut inputs)?;
    for sub in subs {
        add_args(tool, sub, Some(sub.get_name()), &mut inputs)?;
    }
    Ok(inputs)
}

fn add_args(
    tool: &Tool,
    cmd: &clap::Command,
    sub: Option<&str>,
    inputs: &mut Vec<Input>,
) -> Result<(), String> {
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        // clap's own `--help` and `-V/--version`, by what they do: a tool's `--version VERSION`
        // (paved-change open) is an input like any other.
        if is_clap_builtin(arg) || arg.is_hide_set() {
            continue;
        }
        let name = arg
            .get_long()
            .map_or_else(|| id.replace('_', "-"), str::to_owned);
        let via = match (arg.get_env(), arg.is_positional()) {
            (Some(env), _) => Via::Env(env.to_string_lossy().into_owned()),
            (None, true) => Via::Positional,
            (None, false) => {
                return Err(format!(
                    "{} --{name} has no env twin: add `env = \"PAVED_{}\"` to its #[arg] (every flag needs one, and the action passes inputs only through env)",
                    tool.bin,
                    name.to_uppercase().replace('-', "_")
                ));
            }
        };
        let clash = inputs
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.via.clone());
        let name = match (&clash, &via, sub) {
            // Named like another subcommand's input but passed differently (a positional here, a
            // flag there, or another env twin): its own input, named after the subcommand.
            (Some(other), _, Some(sub)) if *other != via => format!("{sub}-{name}"),
            _ => name,
        };
        if let Some(existing) = inputs.iter_mut().find(|i| i.name == name) {
            if let Some(sub) = sub.filter(|_| !existing.only.is_empty()) {
                existing.only.push(sub.to_owned());
            }
            if existing.via != via {
                return Err(format!(
                    "{}: input `{name}` is passed as {:?} in one place and {via:?} in another; give the flag one env twin",
                    tool.bin, existing.via
                ));
            }
            continue;
        }
        let boolean = matches!(arg.get_action(), ArgAction::SetTrue);
        let mut description = arg.get_help().map(one_line).unwrap_or_default();
        if description.is_empty() {
            description = format!("--{name}");
        }
        if !description.ends_with('.') {
            description.push('.');
        }
        let options: Vec<String> = if boolean {
            Vec::new()
        } else {
            arg.get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_owned())
                .collect()
        };
        if !options.is_empty() {
            let _ = write!(description, " One of: {}.", options.join(", "));
        }
        if matches!(arg.get_action(), ArgAction::Append)
            || arg.get_num_args().is_some_and(|n| n.max_values() > 1)
        {
            if matches!(via, Via::Positional) {
                description.push_str(" One value per line.");
            } else if let Some(d) = arg.get_value_delimiter() {
                let _ = write!(description, " Separate values with `{d}`.");
            }
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        // The binary applies its own defaults when the variable is unset, so an input's default is
        // empty (one source of truth, and no default leaks into another subcommand's run).
        if !boolean && !defaults.is_empty() && !description.contains("[default") {
            let _ = write!(description, " [default: {}]", defaults.join(","));
        }
        let default = Some(if boolean { "false" } else { "" }.to_owned());
        inputs.push(Input {
            name,
            description,
            default,
            required: false,
            boolean,
            options,
            via,
            only: sub.map(|s| vec![s.to_owned()]).unwrap_or_default(),
        });
    }
    Ok(())
}

/// clap's generated help and version flags, which a pipeline step has no use for.
fn is_clap_builtin(arg: &clap::Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

fn one_line(s: &clap::builder::StyledStr) -> String {
    s.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A YAML single-quoted scalar.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The GitHub action's generated `inputs:` entries (indented for `inputs:` at column 0).
pub fn github_inputs(inputs: &[Input]) -> String {
    let mut out = String::new();
    for i in inputs {
        let _ = writeln!(out, "  {}:", i.name);
        let _ = writeln!(out, "    description: {}", quote(&i.text()));
        let _ = writeln!(out, "    required: {}", i.required);
        if let Some(d) = &i.default {
            let _ = writeln!(out, "    default: {}", quote(d));
        }
    }
    out
}

/// The run step's generated `env:` entries (indented for a step in `runs.steps`).
pub fn github_env(inputs: &[Input]) -> String {
    env_lines(inputs, 8, |name| format!("${{{{ inputs.{name} }}}}"), &[])
}

fn env_lines(
    inputs: &[Input],
    indent: usize,
    reference: impl Fn(&str) -> String,
    skip: &[&str],
) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut positional = Vec::new();
    for i in inputs.iter().filter(|i| !skip.contains(&i.name.as_str())) {
        match &i.via {
            Via::Env(env) => {
                let _ = writeln!(out, "{pad}{env}: {}", reference(&i.name));
            }
            Via::Command => {
                let _ = writeln!(out, "{pad}PAVED_ACTION_COMMAND: {}", reference(&i.name));
            }
            Via::Positional => positional.push(reference(&i.name)),
        }
    }
    let flags: Vec<&str> = inputs
        .iter()
        .filter(|i| i.boolean && !skip.contains(&i.name.as_str()))
        .filter_map(|i| match &i.via {
            Via::Env(env) => Some(env.as_str()),
            _ => None,
        })
        .collect();
    if !flags.is_empty() {
        // clap counts a flag set to `false` through env as given (it then conflicts with other
        // flags), so run.sh unsets these when they are false.
        let _ = writeln!(out, "{pad}PAVED_ACTION_FLAGS: {}", flags.join(" "));
    }
    // At most one subcommand's positional input is set at a time; run.sh reads them in order.
    for (n, reference) in positional.iter().enumerate() {
        let _ = writeln!(out, "{pad}PAVED_ACTION_ARGS_{}: {reference}", n + 1);
    }
    out
}

/// The GitLab component's generated `spec: inputs:` entries (indented under `spec: inputs:`).
pub fn gitlab_inputs(inputs: &[Input]) -> String {
    let mut out = String::new();
    for i in inputs
        .iter()
        .filter(|i| !GITLAB_SKIP.contains(&i.name.as_str()))
    {
        let _ = writeln!(out, "    {}:", i.name);
        let _ = writeln!(out, "      description: {}", quote(&i.text()));
        if i.boolean {
            let _ = writeln!(out, "      type: boolean");
            let _ = writeln!(out, "      default: false");
            continue;
        }
        if let Some(d) = &i.default {
            let _ = writeln!(out, "      default: {}", quote(d));
        }
        if !i.options.is_empty() {
            let mut options = i.options.clone();
            if let Some(d) = i.default.as_ref().filter(|d| !options.contains(d)) {
                options.insert(0, d.clone());
            }
            let list: Vec<String> = options.iter().map(|o| quote(o)).collect();
            let _ = writeln!(out, "      options: [{}]", list.join(", "));
        }
    }
    out
}

/// The GitLab job's generated `variables:` entries.
pub fn gitlab_variables(inputs: &[Input]) -> String {
    let boolean = |name: &str| inputs.iter().any(|i| i.name == name && i.boolean);
    env_lines(
        inputs,
        4,
        // Strings unquoted: GitLab interpolates into the parsed value, gitlab-ci-local into the
        // text (as a YAML scalar of its own); both read a plain `$[[ ]]` the same way. Booleans
        // quoted, so GitLab sees the string "true"/"false" a variable must be, not a YAML boolean.
        |name| {
            if boolean(name) {
                format!("'$[[ inputs.{name} ]]'")
            } else {
                format!("$[[ inputs.{name} ]]")
            }
        },
        GITLAB_SKIP,
    )
}

/// The GitLab job's generated `script:` items: the setup script (pinned version, checksums) and
/// the run script, the same files the GitHub actions run.
pub fn gitlab_script(root: &Path) -> Result<String, String> {
    let mut out = String::new();
    for file in ["install.sh", "run.sh"] {
        let path = root.join("actions/setup").join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("could not read {}: {e}", path.display()))?;
        out.push_str("    - |\n");
        for line in text.lines().filter(|l| !l.starts_with("#!")) {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    Ok(out)
}

/// Replace the text between the `# BEGIN GENERATED <region>` and `# END GENERATED <region>`
/// marker lines.
pub fn replace_region(text: &str, region: &str, body: &str) -> Result<String, String> {
    let begin = format!("# BEGIN GENERATED {region}");
    let end = format!("# END GENERATED {region}");
    let b = text
        .find(&begin)
        .ok_or_else(|| format!("no `{begin}` marker"))?;
    let body_start = text[b..]
        .find('\n')
        .map(|n| b + n + 1)
        .ok_or("marker at end of file")?;
    let e = text[body_start..]
        .find(&end)
        .map(|n| body_start + n)
        .ok_or_else(|| format!("no `{end}` marker"))?;
    // Keep the end marker's indentation.
    let line_start = text[..e].rfind('\n').map_or(0, |n| n + 1);
    Ok(format!(
        "{}{body}{}",
        &text[..body_start],
        &text[line_start..]
    ))
}

/// GitLab components written by hand around the generated setup script.
pub const SCRIPT_ONLY_TEMPLATES: &[&str] = &["templates/quarantine-loop/template.yml"];

/// Every generated file, as (path relative to root, expected content).
pub fn generate(root: &Path) -> Result<Vec<(String, String)>, String> {
    let script = gitlab_script(root)?;
    let mut files = Vec::new();
    for tool in TOOLS {
        let inputs = inputs(tool)?;
        let action = format!("actions/{}/action.yml", tool.dir);
        let text = read(root, &action)?;
        let text = replace_region(&text, "inputs", &github_inputs(&inputs))
            .and_then(|t| replace_region(&t, "env", &github_env(&inputs)))
            .map_err(|e| format!("{action}: {e}"))?;
        files.push((action, text));

        let template = format!("templates/{}/template.yml", tool.dir);
        let text = read(root, &template)?;
        let text = replace_region(&text, "inputs", &gitlab_inputs(&inputs))
            .and_then(|t| replace_region(&t, "variables", &gitlab_variables(&inputs)))
            .and_then(|t| replace_region(&t, "script", &script))
            .map_err(|e| format!("{template}: {e}"))?;
        files.push((template, text));
    }
    // Components that run more than one command of a tool: only their setup script is generated.
    for template in SCRIPT_ONLY_TEMPLATES {
        let text = read(root, template)?;
        let text =
            replace_region(&text, "script", &script).map_err(|e| format!("{template}: {e}"))?;
        files.push(((*template).to_owned(), text));
    }
    for file in SCHEMAS {
        files.push((file.path.to_owned(), (file.text)()));
    }
    Ok(files)
}

fn read(root: &Path, rel: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(rel)).map_err(|e| format!("could not read {rel}: {e}"))
}

/// Files whose content differs from what codegen would write.
pub fn drift(root: &Path) -> Result<Vec<String>, String> {
    Ok(generate(root)?
        .into_iter()
        .filter(|(rel, text)| std::fs::read_to_string(root.join(rel)).ok().as_deref() != Some(text))
        .map(|(rel, _)| rel)
        .collect())
}

/// Write every generated file under `root`.
pub fn write(root: &Path) -> Result<Vec<String>, String> {
    let mut changed = Vec::new();
    for (rel, text) in generate(root)? {
        let path = root.join(&rel);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(&text) {
            std::fs::write(&path, text).map_err(|e| format!("could not write {rel}: {e}"))?;
            changed.push(rel);
        }
    }
    Ok(changed)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let root = crate::util::root();
    match args.first().map(String::as_str) {
        None => {
            let changed = write(&root)?;
            if changed.is_empty() {
                eprintln!("codegen: everything is up to date");
            }
            for c in changed {
                eprintln!("codegen: wrote {c}");
            }
            Ok(())
        }
        Some("--check") => check(&root),
        Some(a) => Err(format!("`codegen` takes only --check (got `{a}`)")),
    }
}

/// Fail when a generated region or file is out of step with the code.
pub fn check(root: &Path) -> Result<(), String> {
    let stale = drift(root)?;
    if stale.is_empty() {
        eprintln!("codegen: actions, components and schemas match the code");
        Ok(())
    } else {
        Err(format!(
            "these files are out of step with the code they are generated from (the tools' CLIs, the bundle types): {}\n  run `cargo xtask codegen` and commit the result",
            stale.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_match_the_code() {
        let root = crate::util::root();
        let stale = drift(&root).unwrap();
        assert!(
            stale.is_empty(),
            "generated files are out of step with the code in: {}\nrun `cargo xtask codegen`",
            stale.join(", ")
        );
    }

    #[test]
    fn every_flag_maps_to_its_env_twin() {
        let tool = &TOOLS[0];
        let inputs = inputs(tool).unwrap();
        let find = |n: &str| inputs.iter().find(|i| i.name == n).unwrap();
        assert_eq!(find("tag").via, Via::Env("PAVED_VERSION_TAG".into()));
        assert!(find("tag").boolean);
        assert_eq!(find("repo").default.as_deref(), Some(""));
        assert!(find("repo").description.ends_with("[default: .]"));
        assert_eq!(find("command").options, ["", "lint", "calibrate"]);
        assert_eq!(find("messages").via, Via::Positional);
        assert!(find("fetch").description.contains("One of: auto, never."));
        // paved-changelog's --tag is a tag name, not a flag: the same env, its own meaning.
        let changelog = inputs_of("changelog");
        let tag = changelog.iter().find(|i| i.name == "tag").unwrap();
        assert!(!tag.boolean);
    }

    /// Every flag of every tool (subcommands included) with its env twin.
    fn env_twins() -> Vec<(&'static str, String, String, bool, String)> {
        fn walk(
            bin: &'static str,
            cmd: &clap::Command,
            out: &mut Vec<(&'static str, String, String, bool, String)>,
        ) {
            for arg in cmd.get_arguments() {
                let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
                    continue;
                };
                let boolean = matches!(arg.get_action(), ArgAction::SetTrue);
                let values = arg
                    .get_value_names()
                    .map(|v| v.join(" "))
                    .unwrap_or_default();
                out.push((
                    bin,
                    env.to_string_lossy().into_owned(),
                    long.to_owned(),
                    boolean,
                    values,
                ));
            }
            for sub in cmd.get_subcommands() {
                walk(bin, sub, out);
            }
        }
        let mut out = Vec::new();
        for tool in TOOLS {
            walk(tool.bin, &(tool.command)(), &mut out);
        }
        out
    }

    /// One meaning per environment variable (issue #16): a variable two tools read means the same
    /// flag, taking the same kind of value, in both; and every twin is `PAVED_<FLAG>`, or
    /// `PAVED_<TOOL>_<FLAG>` for a flag whose meaning is the tool's own.
    #[test]
    fn every_env_twin_has_one_meaning_and_follows_the_naming_rule() {
        let twins = env_twins();
        let mut problems = Vec::new();
        for (bin, env, long, boolean, values) in &twins {
            let flag = long.to_uppercase().replace('-', "_");
            let tool = bin.trim_start_matches("paved-").to_uppercase();
            if *env != format!("PAVED_{flag}") && *env != format!("PAVED_{tool}_{flag}") {
                problems.push(format!(
                    "{bin} --{long} reads `{env}`: name it `PAVED_{flag}` (or `PAVED_{tool}_{flag}` if its meaning is {bin}'s own)"
                ));
            }
            // The value's placeholder (`<DATE>`, `<YYYY-MM-DD>`) is wording, not meaning.
            for (other_bin, other_env, other_long, other_boolean, other_values) in &twins {
                if other_env == env && (other_long != long || other_boolean != boolean) {
                    problems.push(format!(
                        "`{env}` means {bin} --{long} <{values}> (switch: {boolean}) and {other_bin} --{other_long} <{other_values}> (switch: {other_boolean}): give one of them a tool-specific name"
                    ));
                }
            }
        }
        problems.sort();
        problems.dedup();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    fn inputs_of(dir: &str) -> Vec<Input> {
        inputs(TOOLS.iter().find(|t| t.dir == dir).unwrap()).unwrap()
    }

    /// Every argument of every tool and subcommand reaches the binary from the checked-in action
    /// and component: its env twin is set from an input, or it is a positional input. Read from
    /// the files, not from `inputs()`, so a flag codegen drops is caught here.
    #[test]
    fn every_flag_of_every_subcommand_has_an_input() {
        let root = crate::util::root();
        let mut missing = Vec::new();
        for tool in TOOLS {
            let action = read(&root, &format!("actions/{}/action.yml", tool.dir)).unwrap();
            let template = read(&root, &format!("templates/{}/template.yml", tool.dir)).unwrap();
            let mut cmd = (tool.command)();
            cmd.build();
            let mut cmds = vec![(None, cmd.clone())];
            cmds.extend(
                cmd.get_subcommands()
                    .filter(|s| s.get_name() != "help")
                    .map(|s| (Some(s.get_name().to_owned()), s.clone())),
            );
            for (sub, c) in &cmds {
                for arg in c
                    .get_arguments()
                    .filter(|a| !is_clap_builtin(a) && !a.is_hide_set())
                {
                    let what = format!(
                        "{} {}{}",
                        tool.bin,
                        sub.as_deref().map(|s| format!("{s} ")).unwrap_or_default(),
                        arg.get_long()
                            .map_or_else(|| arg.get_id().to_string(), |l| format!("--{l}"))
                    );
                    if let Some(env) = arg.get_env() {
                        let env = env.to_string_lossy();
                        if !action.contains(&format!("{env}: ${{{{ inputs.")) {
                            missing.push(format!("{what}: actions/{}/action.yml", tool.dir));
                        }
                        if !GITLAB_SKIP.iter().any(|s| arg.get_long() == Some(*s))
                            && !template.contains(&format!("{env}: $[[ inputs."))
                            && !template.contains(&format!("{env}: '$[[ inputs."))
                        {
                            missing.push(format!("{what}: templates/{}/template.yml", tool.dir));
                        }
                    } else if arg.is_positional() {
                        let name = arg.get_id().as_str().replace('_', "-");
                        let names = [
                            name.clone(),
                            format!("{}-{name}", sub.as_deref().unwrap_or("")),
                        ];
                        let passed = |text: &str, open: &str| {
                            text.lines().any(|l| {
                                l.trim_start().starts_with("PAVED_ACTION_ARGS_")
                                    && names
                                        .iter()
                                        .any(|n| l.contains(&format!("{open} inputs.{n} ")))
                            })
                        };
                        if !passed(&action, "${{") {
                            missing.push(format!("{what}: actions/{}/action.yml", tool.dir));
                        }
                        if !passed(&template, "$[[") {
                            missing.push(format!("{what}: templates/{}/template.yml", tool.dir));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "these arguments cannot be given through the action or component (run `cargo xtask codegen`, and check why codegen skips them):\n  {}",
            missing.join("\n  ")
        );
    }

    #[test]
    fn a_changed_flag_is_drift() {
        let text = "a:\n  # BEGIN GENERATED inputs\n  old: 1\n  # END GENERATED inputs\nb: 2\n";
        let out = replace_region(text, "inputs", "  new: 2\n").unwrap();
        assert_eq!(
            out,
            "a:\n  # BEGIN GENERATED inputs\n  new: 2\n  # END GENERATED inputs\nb: 2\n"
        );
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("it's"), "'it''s'");
    }
}
