//! The delivery service binary (`delivery --help`); everything else is in the library.

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(&delivery::SERVICE, delivery::run)
}
