//! The `ipabs` command; everything lives in the library (see `ipabs::cli`).

fn main() -> std::process::ExitCode {
    ipabs::cli::main()
}
