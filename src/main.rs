#![forbid(unsafe_code)]

/// mimalloc rather than glibc's malloc: the relay path allocates and frees message-sized
/// buffers on several threads, and glibc's malloc was 14 % of its CPU (bench/relay.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    supportgate::cli::run()
}
