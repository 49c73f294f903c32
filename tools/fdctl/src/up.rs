//! `fdctl up` (what `make run` runs) and `fdctl with-system -- CMD` (what the client tests
//! run): the whole system as processes through the one launcher, `fd_testkit::system`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use fd_testkit::system::{self, Nats, Options, Ports, ProcessSystem, SERVICES};

/// Settings shared by `up` and `with-system`.
#[derive(clap::Args, Debug)]
pub struct SystemArgs {
    /// Where the service binaries are (default: beside fdctl).
    #[arg(long, env = "BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// The nats-server to start when none is reused.
    #[arg(long, env = "NATS_SERVER_BIN")]
    nats_server: Option<PathBuf>,
    /// The built web app (`web/dist`, `make web`): the gateway serves it and passes its
    /// gRPC-Web calls to the services. `up` uses `web/dist` if it exists.
    #[arg(long, env = "WEB_DIR")]
    web_dir: Option<PathBuf>,
}

impl SystemArgs {
    fn bin_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.bin_dir {
            Some(d) => Ok(d.clone()),
            None => Ok(std::env::current_exe()?
                .parent()
                .context("fdctl has no directory")?
                .to_path_buf()),
        }
    }

    fn nats_bin(&self) -> PathBuf {
        self.nats_server
            .clone()
            .unwrap_or_else(fd_testkit::nats_server_bin)
    }
}

/// The token issuer's port under `make run` (`ISSUER_PORT` moves it).
pub const ISSUER_PORT: u16 = 50050;

/// `make run`: the services on their default ports (or `<NAME>_PORT`), SQLite under
/// `data_dir`, NATS from `NATS_URL`, `NATS_PORT`, a suitable server already on 4222, or a new
/// one; prints the endpoints and stops everything on Ctrl-C or SIGTERM.
pub async fn up(args: SystemArgs, data_dir: PathBuf) -> anyhow::Result<()> {
    let overrides: HashMap<String, u16> = SERVICES
        .iter()
        .chain(std::iter::once(&system::MARKETING))
        .filter_map(|(name, _)| {
            let var = format!("{}_PORT", name.to_ascii_uppercase());
            let port = std::env::var(&var).ok()?.parse().ok()?;
            Some((var, port))
        })
        .collect();
    let (nats, how) = if let Ok(url) = std::env::var("NATS_URL") {
        (
            Nats::External(url.clone()),
            format!("using NATS at {url} (NATS_URL)"),
        )
    } else if let Some(port) = std::env::var("NATS_PORT").ok().and_then(|p| p.parse().ok()) {
        if system::port_in_use(port) {
            anyhow::bail!("port {port} (NATS_PORT) is already in use by another process; choose another or unset NATS_PORT");
        }
        (
            Nats::Start {
                bin: args.nats_bin(),
                port: Some(port),
            },
            format!("starting nats-server on {port} (NATS_PORT)"),
        )
    } else {
        system::choose_nats(
            args.nats_bin(),
            fd_chassis::nats::MIN_SERVER_VERSION,
            system::NATS_DEFAULT_PORT,
        )
        .await
    };
    println!("{how}");
    let mut opts = Options::new(args.bin_dir()?, &data_dir);
    let issuer_port = match std::env::var("ISSUER_PORT") {
        Ok(p) => p
            .parse()
            .with_context(|| format!("ISSUER_PORT={p:?} is not a port"))?,
        Err(_) => ISSUER_PORT,
    };
    opts.issuer_port = Some(issuer_port);
    let mut overrides = overrides;
    if let Some(port) = std::env::var("GATEWAY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        overrides.insert("GATEWAY_PORT".into(), port);
    }
    opts.ports = Ports::Defaults(overrides);
    opts.nats = nats;
    opts.gateway = args
        .web_dir
        .clone()
        .or_else(|| Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").exists()));
    let mut sys = ProcessSystem::start(opts).await?;
    let fdctl = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "fdctl".into());
    println!();
    println!(
        "food-delivery is running (data and logs under {}):",
        data_dir.display()
    );
    for (name, _) in SERVICES {
        println!(
            "  {name:<13} grpc://{}    {}",
            sys.addr(name),
            system::health_name(name)
        );
    }
    if sys.runs_marketing() {
        let name = system::MARKETING.0;
        println!(
            "  {name:<13} grpc://{}    {} (Python)",
            sys.addr(name),
            system::health_name(name)
        );
    } else {
        println!("  marketing     not started: build its virtualenv with `make marketing`");
    }
    if sys.nats_auth().is_some() {
        println!(
            "  {:<13} {} (JetStream; each service its own user; admin URL in {})",
            "NATS",
            sys.nats_url(),
            sys.data_dir().join("nats-admin.url").display()
        );
    } else {
        println!(
            "  {:<13} {} (JetStream; started elsewhere, so its users and permissions are its own: \
             the services connect without credentials)",
            "NATS",
            sys.nats_url()
        );
    }
    println!(
        "  {:<13} {} (tokens for the demo users; JWKS at /.well-known/jwks.json)",
        "issuer",
        sys.issuer().url
    );
    println!("  (every service serves grpc.health.v1 and gRPC reflection v1 and v1alpha)");
    match sys.gateway_url() {
        Some(url) => {
            println!("  web app       {url}  (customers: ada; store owner: olga; rider: rita)")
        }
        None => println!("  web app       not started: build it with `make web` (needs npm)"),
    }
    let metrics: Vec<String> = SERVICES
        .iter()
        .map(|(name, _)| sys.metrics_url(name))
        .collect();
    println!("  metrics (Prometheus): {}", metrics.join(" "));
    println!();
    println!("Try, in another terminal (every call needs a token: sign in first):");
    println!("  {fdctl} login --as alice             # a customer (owners: olga; riders: rita; operator: ops)");
    println!("  {fdctl} store stores                # what there is to order from");
    println!("  {fdctl} store menu store-1");
    println!("  {fdctl} order place --customer alice --store store-1 --item pizza:2 --item cola");
    println!("  {fdctl} order list --customer alice");
    println!("  make demo    # all eight scenarios, with each order's timeline");
    println!();
    println!("Ctrl-C stops everything.");
    let code = tokio::select! {
        () = fd_chassis::shutdown::signal() => None,
        name = sys.wait_any_exit() => Some(name),
    };
    if let Some(name) = code {
        eprintln!(
            "{name} exited unexpectedly; see {}",
            sys.log(&name).display()
        );
        sys.stop().await;
        anyhow::bail!("{name} exited");
    }
    println!();
    println!("stopping the services...");
    sys.stop().await;
    println!("stopped.");
    Ok(())
}

/// Runs `command` against a fresh system (free ports, SQLite in a temporary directory) with
/// the endpoints in FD_<SERVICE>_ADDR (host:port; FD_MARKETING_ADDR too when marketing runs),
/// FD_<SERVICE>_METRICS_URL and NATS_URL;
/// exits with its exit code.
pub async fn with_system(args: SystemArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let (program, rest) = command
        .split_first()
        .context("with-system needs a command: fdctl with-system -- CMD ARGS...")?;
    let dir = tempfile::tempdir()?;
    let mut opts = Options::new(args.bin_dir()?, dir.path());
    opts.nats = Nats::Start {
        bin: args.nats_bin(),
        port: None,
    };
    opts.issuer_any_user = true;
    opts.gateway = args.web_dir.clone();
    let sys = ProcessSystem::start(opts).await?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .env("NATS_URL", sys.nats_admin_url())
        .env("FD_ISSUER_URL", &sys.issuer().url);
    if let Some(url) = sys.gateway_url() {
        cmd.env("FD_GATEWAY_URL", url);
    }
    if sys.runs_marketing() {
        cmd.env("FD_MARKETING_ADDR", sys.addr(system::MARKETING.0));
    }
    for (name, _) in SERVICES {
        cmd.env(
            format!("FD_{}_ADDR", name.to_ascii_uppercase()),
            sys.addr(name),
        );
        cmd.env(
            format!("FD_{}_METRICS_URL", name.to_ascii_uppercase()),
            sys.metrics_url(name),
        );
    }
    let status = cmd
        .status()
        .await
        .with_context(|| format!("cannot run {program}"))?;
    sys.stop().await;
    Ok(status.code().unwrap_or(1))
}
