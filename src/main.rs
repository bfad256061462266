#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    supportgate::cli::run()
}
