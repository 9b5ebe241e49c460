//! `paved-change`: see the library docs; this only hands the arguments over.

fn main() -> std::process::ExitCode {
    paved_change::main_with_args(std::env::args_os())
}
