//! The store service binary (`store --help`); everything else is in the library.

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(&store::SERVICE, store::run)
}
