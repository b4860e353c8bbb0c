//! The `gridmap` binary: see `gridmap --help`.

/// mimalloc instead of the system allocator: cutting a tile allocates many small vectors on
/// every core at once, where glibc's malloc spent a quarter of an uncached tile's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gridmap::cli::main()
}
