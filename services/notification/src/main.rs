//! The notification service binary (`notification --help`); everything else is in the library.

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(&notification::SERVICE, notification::run)
}
