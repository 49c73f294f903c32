//! The order service binary (`order --help`); everything else is in the library.

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(&order::SERVICE, order::run)
}
