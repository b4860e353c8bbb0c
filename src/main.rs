//! The `gridmap` binary: see `gridmap --help`.

fn main() -> std::process::ExitCode {
    gridmap::cli::main()
}
