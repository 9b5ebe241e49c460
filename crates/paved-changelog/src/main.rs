//! `paved-changelog`: see the library docs; this only hands the arguments over.

fn main() -> std::process::ExitCode {
    paved_changelog::main_with_args(std::env::args_os())
}
