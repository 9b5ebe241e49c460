//! `paved-promote`: see the library docs; this only hands the arguments over.

fn main() -> std::process::ExitCode {
    paved_promote::main_with_args(std::env::args_os())
}
