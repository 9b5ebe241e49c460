//! `paved-quarantine`: see the library docs; this only hands the arguments over.

fn main() -> std::process::ExitCode {
    paved_quarantine::main_with_args(std::env::args_os())
}
