use std::process::ExitCode;

fn main() -> ExitCode {
    mcp2::cli::main()
}
