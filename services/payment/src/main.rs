//! The payment service binary (`payment --help`); everything else is in the library.

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(&payment::SERVICE, payment::run)
}
