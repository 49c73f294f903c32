//! `fdctl`: a command-line client for the food-delivery services, so that nobody needs
//! grpcurl or local `.proto` files to try the system.
//!
//! ```text
//! fdctl store stores              fdctl store menu store-1        (what there is to order)
//! fdctl order quote --store store-1 --item pizza:2 --item cola
//! fdctl order place --customer alice --store store-1 --item pizza:2 --address "1 Main St"
//! fdctl order get <ORDER_ID>       fdctl order cancel <ORDER_ID> --reason "changed my mind"
//! fdctl store create --id luigi --owner olga --name "Luigi's"   (the owner's menu commands:
//! fdctl store add-item luigi pizza --name Margherita --price 1250  update-item, remove-item,
//! fdctl store close luigi                                          open, close, seed)
//! fdctl order list --customer alice fdctl order watch <ORDER_ID>
//! fdctl payment get --order <ORDER_ID>
//! fdctl health http://127.0.0.1:50051 --wait 10
//! fdctl up                         (make run: the whole system on this machine)
//! fdctl with-system -- pytest      (a command against a fresh system)
//! ```

mod deadletters;
mod up;
mod v1;

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use fd_proto::common::v1::Money;
use fd_proto::order::v2 as order;
use fd_proto::payment::v1 as payment;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_types::StatusExt;

#[derive(Parser, Debug)]
#[command(version, about = "Command-line client for the food-delivery services")]
struct Cli {
    /// Order service URL.
    #[arg(
        long,
        env = "ORDER_ADDR",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    order_addr: String,
    /// Payment service URL.
    #[arg(
        long,
        env = "PAYMENT_ADDR",
        default_value = "http://127.0.0.1:50052",
        global = true
    )]
    payment_addr: String,
    /// Store service URL.
    #[arg(
        long,
        env = "STORE_ADDR",
        default_value = "http://127.0.0.1:50053",
        global = true
    )]
    store_addr: String,
    /// Delivery service URL.
    #[arg(
        long,
        env = "DELIVERY_ADDR",
        default_value = "http://127.0.0.1:50054",
        global = true
    )]
    delivery_addr: String,
    /// Notification service URL.
    #[arg(
        long,
        env = "NOTIFICATION_ADDR",
        default_value = "http://127.0.0.1:50055",
        global = true
    )]
    notification_addr: String,
    /// Marketing service URL.
    #[arg(
        long,
        env = "MARKETING_ADDR",
        default_value = "http://127.0.0.1:50056",
        global = true
    )]
    marketing_addr: String,
    /// The token to call with (default: the one `fdctl login` saved).
    #[arg(long, env = "FD_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Call as this demo user, with a token from the issuer (e.g. ada, olga, rider-7, ops).
    #[arg(long = "as", global = true)]
    as_user: Option<String>,
    /// The token issuer `make run` starts.
    #[arg(
        long,
        env = "FD_ISSUER_URL",
        default_value = "http://127.0.0.1:50050",
        global = true
    )]
    issuer_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Orders (fooddelivery.order.v2): quote, place, get, cancel, list, watch.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Payments: get.
    #[command(subcommand)]
    Payment(PaymentCmd),
    /// Stores and menus (browse, and the owner's changes) and the owner's tickets.
    #[command(subcommand)]
    Store(StoreCmd),
    /// The rider: get, pick up, complete.
    #[command(subcommand)]
    Delivery(DeliveryCmd),
    /// Notifications sent to a customer.
    Notifications {
        #[arg(long)]
        customer: String,
        /// Only those about this order.
        #[arg(long, default_value = "")]
        order: String,
    },
    /// Marketing (the Python service): a customer's coupons, recommendations and digests.
    #[command(subcommand)]
    Marketing(MarketingCmd),
    /// Starts the whole system on this machine (what `make run` does); Ctrl-C stops it.
    Up {
        #[command(flatten)]
        system: up::SystemArgs,
        /// SQLite files, the JetStream store and logs/.
        #[arg(long, env = "DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
    },
    /// Runs a command against a freshly started system (free ports, temporary data), with the
    /// endpoints in FD_ORDER_ADDR ... FD_NOTIFICATION_ADDR, NATS_URL and (with --web-dir)
    /// FD_GATEWAY_URL; exits with its code.
    WithSystem {
        #[command(flatten)]
        system: up::SystemArgs,
        /// The command and its arguments (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Gets a token for a demo user from the issuer and saves it for the next commands
    /// (customers: alice, ada, bea, ...; owners: olga, kenji, gina; riders: rita, rider-7;
    /// operator: ops; any other name signs in as a customer).
    Login,
    /// Runs only the demo token issuer (what `make run` starts; docker compose runs it too).
    Issuer {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:50050")]
        listen: std::net::SocketAddr,
        /// The issuer URL its tokens carry (and services are told to trust).
        #[arg(long)]
        public_url: Option<String>,
        /// A service client, CLIENT_ID=SECRET (repeatable), e.g. order=$ORDER_CLIENT_SECRET.
        #[arg(long = "client")]
        clients: Vec<String>,
    },
    /// NATS users for a deployment, one per service with only its grants. `--out DIR` makes
    /// fresh keys for Kubernetes: DIR/nats-auth.conf (the server's `authorization` block,
    /// public keys only: include it in the NATS server's configuration) and
    /// DIR/fooddelivery-nats-secret.yaml (the Secret the Deployments read their seeds from).
    /// `--compose` prints deploy/nats.conf (passwords from the environment).
    NatsAuth {
        /// Where to write the Kubernetes files.
        #[arg(long, conflicts_with = "compose", required_unless_present = "compose")]
        out: Option<std::path::PathBuf>,
        /// The namespace of the Secret.
        #[arg(long, default_value = "fooddelivery")]
        namespace: String,
        /// Print docker-compose's server configuration instead.
        #[arg(long)]
        compose: bool,
    },
    /// Events the consumers gave up on (after their retries, or at once when they can never
    /// work), and replaying them once the cause is fixed. Needs NATS's admin user: NATS_URL
    /// or `make run`'s data/nats-admin.url.
    Deadletters {
        #[command(subcommand)]
        cmd: DeadletterCmd,
        /// NATS with the admin's credentials (default: NATS_URL, then data/nats-admin.url).
        #[arg(long, env = "NATS_URL", global = true)]
        nats_url: Option<String>,
    },
    /// Checks grpc.health.v1 of a service; with --wait, polls until SERVING.
    Health {
        /// Service URL, e.g. http://127.0.0.1:50051.
        url: String,
        /// Seconds to keep trying before giving up.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
}

#[derive(Subcommand, Debug)]
enum DeadletterCmd {
    /// One line per dead letter: sequence, consumer, event, deliveries, reason.
    List {
        /// Only this consumer's (e.g. store-tickets).
        #[arg(long)]
        consumer: Option<String>,
    },
    /// Publishes dead letters' events again on their original subjects (the consumers that
    /// applied them skip them) and removes them.
    Replay {
        /// Dead-letter sequence numbers (from `list`).
        seqs: Vec<u64>,
        /// Every dead letter (of `--consumer`, if given).
        #[arg(long, conflicts_with = "seqs")]
        all: bool,
        #[arg(long)]
        consumer: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum MarketingCmd {
    /// The customer's coupons (earned by delivered orders).
    Coupons {
        #[arg(long)]
        customer: String,
    },
    /// Items that go with what the customer orders often.
    Recommendations {
        #[arg(long)]
        customer: String,
    },
    /// The daily digests sent to the customer.
    Digests {
        #[arg(long)]
        customer: String,
    },
    /// When the customer's digest comes (09:00 in this time zone), or that it does not.
    Digest {
        #[arg(long)]
        customer: String,
        /// IANA time zone, e.g. Europe/Berlin (empty: the service's default).
        #[arg(long, default_value = "")]
        time_zone: String,
        /// Stop sending it.
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand, Debug)]
enum OrderCmd {
    /// Prices a cart from the store's menu without ordering.
    Quote {
        #[arg(long, default_value = "store-1")]
        store: String,
        /// MENU_ITEM_ID[:QUANTITY], repeatable, e.g. pizza:2 (prices come from the menu).
        #[arg(long = "item", required = true)]
        items: Vec<String>,
    },
    /// Places (and pays) an order, priced from the store's menu.
    Place {
        #[arg(long)]
        customer: String,
        #[arg(long, default_value = "store-1")]
        store: String,
        /// MENU_ITEM_ID[:QUANTITY], repeatable, e.g. pizza:2 (prices come from the menu).
        /// The older ID:NAME:QUANTITY:UNIT_PRICE_MINOR form still works (through order v1,
        /// which refuses a price that is not the menu's).
        #[arg(long = "item", required = true)]
        items: Vec<String>,
        /// Currency of the older item form's prices.
        #[arg(long, default_value = "EUR")]
        currency: String,
        #[arg(long, default_value = "1 Main Street")]
        address: String,
        /// Idempotency key; a new UUID if omitted. Reuse it to retry safely.
        #[arg(long)]
        key: Option<String>,
    },
    /// Shows one order.
    Get { order_id: String },
    /// Cancels an order.
    Cancel {
        order_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lists a customer's orders.
    List {
        #[arg(long)]
        customer: String,
    },
    /// Follows an order's status until it is final.
    Watch { order_id: String },
}

#[derive(Subcommand, Debug)]
enum StoreCmd {
    /// Lists the stores (customers' view).
    Stores {
        /// Only the open ones.
        #[arg(long)]
        open: bool,
    },
    /// Shows a store's menu (customers' view).
    Menu {
        #[arg(default_value = "store-1")]
        store: String,
    },
    /// Creates a store (repeating the same create is a no-op).
    Create {
        /// Store id (a-z, 0-9, '-'); assigned if omitted.
        #[arg(long, default_value = "")]
        id: String,
        #[arg(long)]
        owner: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Create it closed.
        #[arg(long)]
        closed: bool,
    },
    /// Opens a store: it takes orders.
    Open { store: String },
    /// Closes a store: its orders are refused.
    Close { store: String },
    /// Adds an item to a store's menu.
    AddItem {
        store: String,
        /// Item id (a-z, 0-9, '-'); assigned if empty.
        item: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Price of one in minor units (1250 = 12.50).
        #[arg(long)]
        price: i64,
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Add it as not available.
        #[arg(long)]
        unavailable: bool,
    },
    /// Changes a menu item; what is not given stays.
    UpdateItem {
        store: String,
        item: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// New price in minor units.
        #[arg(long)]
        price: Option<i64>,
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// true or false.
        #[arg(long)]
        available: Option<bool>,
    },
    /// Removes an item from a menu.
    RemoveItem { store: String, item: String },
    /// Creates the demo stores and menus (idempotent; `make run` does it).
    Seed,
    /// Lists a store's tickets, newest first.
    List {
        #[arg(long, default_value = "store-1")]
        store: String,
    },
    /// Accepts an order's ticket.
    Accept { order_id: String },
    /// Rejects an order's ticket (the order is then cancelled and refunded).
    Reject {
        order_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Reports the food ready for pickup.
    Finish { order_id: String },
}

#[derive(Subcommand, Debug)]
enum DeliveryCmd {
    /// Shows an order's delivery.
    Get { order_id: String },
    /// A rider picks the food up.
    PickUp {
        order_id: String,
        #[arg(long, default_value = "rider-1")]
        rider: String,
    },
    /// The rider hands the food over.
    Complete { order_id: String },
}

#[derive(Subcommand, Debug)]
enum PaymentCmd {
    /// Shows the payment of an order.
    Get {
        #[arg(long)]
        order: String,
    },
}

/// Where `fdctl login` keeps the token: `FDCTL_TOKEN_FILE`, or `~/.fdctl-token`.
fn token_file() -> std::path::PathBuf {
    std::env::var_os("FDCTL_TOKEN_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(std::path::PathBuf::from)
                .unwrap_or_default()
                .join(".fdctl-token")
        })
}

/// A token for `user` from the issuer's token endpoint (the demo's password grant).
async fn fetch_token(issuer_url: &str, user: &str) -> anyhow::Result<String> {
    let answer = reqwest::Client::new()
        .post(format!("{issuer_url}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=password&username={user}"))
        .send()
        .await
        .with_context(|| {
            format!("cannot reach the token issuer at {issuer_url} (is make run up?)")
        })?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    match body["access_token"].as_str() {
        Some(t) if status.is_success() => Ok(t.to_string()),
        _ => bail!("the issuer refused {user}: {body}"),
    }
}

/// Who this invocation calls as (`--token`, `--as`, the issuer).
#[derive(Debug, Clone)]
struct Who {
    token: Option<String>,
    as_user: Option<String>,
    issuer_url: String,
}

/// The token this invocation calls with: `--token`, `--as NAME`, or the saved one.
async fn token(cli: &Who) -> anyhow::Result<String> {
    if let Some(t) = &cli.token {
        return Ok(t.clone());
    }
    if let Some(user) = &cli.as_user {
        return fetch_token(&cli.issuer_url, user).await;
    }
    std::fs::read_to_string(token_file())
        .map(|t| t.trim().to_string())
        .map_err(|_| {
            anyhow::anyhow!(
                "not signed in: run `fdctl login --as NAME` (e.g. ada), or pass --as NAME or --token"
            )
        })
}

/// A channel to `url` whose calls carry the caller's token.
async fn authed(cli: &Who, url: &str) -> anyhow::Result<fd_testkit::issuer::AuthChannel> {
    let token = token(cli).await?;
    Ok(fd_testkit::issuer::with_token(channel(url).await?, &token))
}

async fn channel(url: &str) -> anyhow::Result<Channel> {
    Channel::from_shared(url.to_string())
        .with_context(|| format!("bad URL {url}"))?
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .with_context(|| format!("cannot connect to {url}"))
}

/// Turns a gRPC error into a readable message, with its google.rpc details.
fn explain(s: tonic::Status) -> anyhow::Error {
    let mut msg = format!("{:?}: {}", s.code(), s.message());
    if s.code() == tonic::Code::Unauthenticated {
        msg.push_str("\n  sign in: fdctl login --as NAME (e.g. ada, olga, rider-7, ops)");
    }
    let d = s.get_error_details();
    if let Some(bad) = d.bad_request() {
        for v in &bad.field_violations {
            msg.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    if let Some(delay) = d.retry_info().and_then(|r| r.retry_delay) {
        msg.push_str(&format!("\n  retry after {:.1} s", delay.as_secs_f64()));
    }
    if let Some(failure) = d.precondition_failure() {
        for v in &failure.violations {
            msg.push_str(&format!(
                "\n  {} ({}): {}",
                v.subject, v.r#type, v.description
            ));
        }
    }
    if let Some(info) = d.error_info() {
        msg.push_str(&format!("\n  reason: {}", info.reason));
    }
    anyhow::anyhow!(msg)
}

fn money(m: &Option<Money>) -> String {
    m.as_ref().map_or("-".into(), |m| {
        format!(
            "{}.{:02} {}",
            m.amount_minor / 100,
            m.amount_minor % 100,
            m.currency_code
        )
    })
}

/// `2026-11-25T10:42:13.663Z` from a protobuf timestamp.
fn rfc3339(t: &prost_types::Timestamp) -> String {
    fd_chassis::time::rfc3339(t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
}

fn print_order(o: &order::Order) {
    println!("order    {}", o.order_id);
    println!(
        "state    {}",
        o.state().as_str_name().trim_start_matches("ORDER_STATE_")
    );
    println!("customer {}  store {}", o.customer_id, o.store_id);
    print_lines(&o.lines);
    println!(
        "total    {}  payment {} ({})",
        money(&o.total),
        o.payment_id,
        o.payment_status().as_str_name()
    );
    for t in &o.timeline {
        let at = t.time.as_ref().map_or("-".into(), rfc3339);
        println!(
            "  {at}  {:<22} {}",
            t.state().as_str_name().trim_start_matches("ORDER_STATE_"),
            t.detail
        );
    }
}

fn print_lines(lines: &[order::PricedLine]) {
    for l in lines {
        println!(
            "  {} x {} ({}) @ {} = {}",
            l.quantity,
            l.name,
            l.menu_item_id,
            money(&l.unit_price),
            money(&l.line_total)
        );
    }
}

/// Opens or closes a store (UpdateStore with only `open` set).
async fn set_open(
    c: &mut fd_proto::store::v1::store_service_client::StoreServiceClient<
        fd_testkit::issuer::AuthChannel,
    >,
    store_id: String,
    open: bool,
) -> anyhow::Result<fd_proto::store::v1::Store> {
    c.update_store(fd_proto::store::v1::UpdateStoreRequest {
        store_id,
        name: None,
        open: Some(open),
    })
    .await
    .map_err(explain)?
    .into_inner()
    .store
    .context("empty response")
}

/// `--item pizza:2` (or `pizza`, one of it).
fn parse_line(s: &str) -> anyhow::Result<order::OrderLine> {
    let (id, quantity) = match s.split(':').collect::<Vec<_>>()[..] {
        [id] => (id, 1),
        [id, q] => (
            id,
            q.parse()
                .with_context(|| format!("--item {s:?}: quantity"))?,
        ),
        _ => bail!(
            "--item {s:?}: expected MENU_ITEM_ID[:QUANTITY], e.g. pizza:2 \
             (prices come from the store's menu: fdctl store menu STORE)"
        ),
    };
    Ok(order::OrderLine {
        menu_item_id: id.into(),
        quantity,
    })
}

fn price(minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor: minor,
        currency_code: currency.into(),
    })
}

async fn health(url: &str, wait: u64) -> anyhow::Result<()> {
    use tonic_health::pb::{
        health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
    };
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let status = match channel(url).await {
            Ok(ch) => HealthClient::new(ch)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|r| r.into_inner().status())
                .map_err(|s| anyhow::anyhow!("{s}")),
            Err(e) => Err(e),
        };
        match status {
            Ok(ServingStatus::Serving) => {
                println!("{url} SERVING");
                return Ok(());
            }
            other if Instant::now() >= deadline => bail!("{url} is not serving: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn nats_auth(
    out: Option<std::path::PathBuf>,
    namespace: &str,
    compose: bool,
) -> anyhow::Result<()> {
    use fd_testkit::nats_auth;
    let Some(dir) = out.filter(|_| !compose) else {
        print!("{}", nats_auth::compose_config());
        return Ok(());
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let auth = nats_auth::LocalAuth::generate();
    let conf = dir.join("nats-auth.conf");
    std::fs::write(&conf, auth.authorization())
        .with_context(|| format!("cannot write {}", conf.display()))?;
    let secret = dir.join("fooddelivery-nats-secret.yaml");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let _ = std::fs::remove_file(&secret);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&secret)
            .and_then(|mut f| f.write_all(auth.kubernetes_secret(namespace).as_bytes()))
            .with_context(|| format!("cannot write {}", secret.display()))?;
    }
    println!(
        "wrote {} (public keys and grants: add it to the NATS server's configuration)",
        conf.display()
    );
    println!(
        "wrote {} (the services' seeds: kubectl apply -f it; keep it out of git)",
        secret.display()
    );
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let who = Who {
        token: cli.token.clone(),
        as_user: cli.as_user.clone(),
        issuer_url: cli.issuer_url.clone(),
    };
    match cli.command {
        Command::Up { system, data_dir } => up::up(system, data_dir).await,
        Command::WithSystem { system, command } => {
            let code = up::with_system(system, command).await?;
            std::process::exit(code)
        }
        Command::Health { url, wait } => health(&url, wait).await,
        Command::Deadletters { cmd, nats_url } => {
            let url = deadletters::nats_url(nats_url);
            match cmd {
                DeadletterCmd::List { consumer } => {
                    let dls = deadletters::list(&url, consumer.as_deref()).await?;
                    if dls.is_empty() {
                        println!("no dead letters");
                    }
                    for d in dls {
                        println!(
                            "{:>6}  {}  {:<32} {} {} (delivered {}): {}",
                            d.seq,
                            d.time,
                            d.consumer,
                            d.original_subject,
                            d.event_id,
                            d.deliveries,
                            d.reason
                        );
                    }
                    Ok(())
                }
                DeadletterCmd::Replay {
                    seqs,
                    all,
                    consumer,
                } => {
                    let seqs = if all {
                        deadletters::list(&url, consumer.as_deref())
                            .await?
                            .iter()
                            .map(|d| d.seq)
                            .collect()
                    } else {
                        if seqs.is_empty() {
                            bail!("name the dead letters to replay (fdctl deadletters list), or --all");
                        }
                        seqs
                    };
                    let n = deadletters::replay(&url, &seqs).await?;
                    println!("replayed {n} dead letter(s)");
                    Ok(())
                }
            }
        }
        Command::NatsAuth {
            out,
            namespace,
            compose,
        } => nats_auth(out, &namespace, compose),
        Command::Issuer {
            listen,
            public_url,
            clients,
        } => {
            let issuer = fd_testkit::issuer::Issuer::serve(listen, public_url)
                .await
                .with_context(|| format!("the issuer cannot listen on {listen}"))?;
            for c in &clients {
                let (id, secret) = c
                    .split_once('=')
                    .with_context(|| format!("--client {c:?}: expected CLIENT_ID=SECRET"))?;
                issuer.set_client_secret(id, secret);
            }
            println!(
                "token issuer {} (JWKS at {})",
                issuer.url,
                issuer.jwks_url()
            );
            tokio::select! {
                () = fd_chassis::shutdown::signal() => {}
                () = issuer.wait() => {}
            }
            Ok(())
        }
        Command::Login => {
            let user = who
                .as_user
                .clone()
                .context("say who: fdctl login --as NAME (e.g. ada, olga, rider-7, ops)")?;
            let t = fetch_token(&who.issuer_url, &user).await?;
            let file = token_file();
            std::fs::write(&file, &t)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!("signed in as {user} (token saved in {})", file.display());
            Ok(())
        }
        Command::Payment(PaymentCmd::Get { order: id }) => {
            let mut c = payment::payment_service_client::PaymentServiceClient::new(
                authed(&who, &cli.payment_addr).await?,
            );
            let lookup = Some(payment::get_payment_request::Lookup::OrderId(id));
            let p = c
                .get_payment(payment::GetPaymentRequest { lookup })
                .await
                .map_err(explain)?
                .into_inner()
                .payment;
            let p = p.context("empty response")?;
            println!(
                "payment {}  order {}  {}  {}",
                p.payment_id,
                p.order_id,
                money(&p.amount),
                p.state().as_str_name()
            );
            Ok(())
        }
        Command::Store(cmd) => {
            use fd_proto::store::v1 as st;
            let mut c = st::store_service_client::StoreServiceClient::new(
                authed(&who, &cli.store_addr).await?,
            );
            let show = |t: &st::StoreOrder| {
                println!(
                    "ticket {}  {:<16} store {}  {} item(s)  {}",
                    t.order_id,
                    t.state().as_str_name().trim_start_matches("TICKET_STATE_"),
                    t.store_id,
                    t.items.len(),
                    t.reject_reason
                )
            };
            let mut catalog = st::catalog_service_client::CatalogServiceClient::new(
                authed(&who, &cli.store_addr).await?,
            );
            let show_store = |s: &st::Store| {
                println!(
                    "store {:<20} {:<7} {}  (owner {}, {})",
                    s.store_id,
                    if s.open { "open" } else { "closed" },
                    s.name,
                    s.owner_id,
                    s.currency_code
                )
            };
            let show_item = |i: &st::MenuItem| {
                println!(
                    "  {:<12} {:<24} {:>12}  {}{}",
                    i.menu_item_id,
                    i.name,
                    money(&i.price),
                    if i.available { "" } else { "(not available) " },
                    i.description
                )
            };
            match cmd {
                StoreCmd::Stores { open } => {
                    let mut token = String::new();
                    loop {
                        let page = catalog
                            .list_stores(st::ListStoresRequest {
                                open_only: open,
                                page_size: 100,
                                page_token: token,
                            })
                            .await
                            .map_err(explain)?
                            .into_inner();
                        page.stores.iter().for_each(show_store);
                        if page.next_page_token.is_empty() {
                            break;
                        }
                        token = page.next_page_token;
                    }
                }
                StoreCmd::Menu { store } => {
                    let s = catalog
                        .get_store(st::GetStoreRequest {
                            store_id: store.clone(),
                        })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .store
                        .context("empty response")?;
                    show_store(&s);
                    let mut token = String::new();
                    loop {
                        let page = catalog
                            .list_menu_items(st::ListMenuItemsRequest {
                                store_id: store.clone(),
                                page_size: 100,
                                page_token: token,
                            })
                            .await
                            .map_err(explain)?
                            .into_inner();
                        page.items.iter().for_each(show_item);
                        if page.next_page_token.is_empty() {
                            break;
                        }
                        token = page.next_page_token;
                    }
                }
                StoreCmd::Create {
                    id,
                    owner,
                    name,
                    currency,
                    closed,
                } => {
                    let s = c
                        .create_store(st::CreateStoreRequest {
                            store_id: id,
                            owner_id: owner,
                            name,
                            currency_code: currency,
                            open: !closed,
                        })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .store;
                    show_store(&s.context("empty response")?);
                }
                StoreCmd::Open { store } => show_store(&set_open(&mut c, store, true).await?),
                StoreCmd::Close { store } => show_store(&set_open(&mut c, store, false).await?),
                StoreCmd::AddItem {
                    store,
                    item,
                    name,
                    description,
                    price: minor,
                    currency,
                    unavailable,
                } => {
                    let i = c
                        .create_menu_item(st::CreateMenuItemRequest {
                            store_id: store,
                            menu_item_id: item,
                            name,
                            description,
                            price: price(minor, &currency),
                            available: !unavailable,
                        })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .item;
                    show_item(&i.context("empty response")?);
                }
                StoreCmd::UpdateItem {
                    store,
                    item,
                    name,
                    description,
                    price: minor,
                    currency,
                    available,
                } => {
                    let i = c
                        .update_menu_item(st::UpdateMenuItemRequest {
                            store_id: store,
                            menu_item_id: item,
                            name,
                            description,
                            price: minor.and_then(|m| price(m, &currency)),
                            available,
                        })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .item;
                    show_item(&i.context("empty response")?);
                }
                StoreCmd::RemoveItem { store, item } => {
                    c.delete_menu_item(st::DeleteMenuItemRequest {
                        store_id: store.clone(),
                        menu_item_id: item.clone(),
                    })
                    .await
                    .map_err(explain)?;
                    println!("removed {item} from {store}'s menu");
                }
                StoreCmd::Seed => {
                    let items =
                        fd_testkit::demo::seed(&cli.store_addr, &token(&who).await?).await?;
                    println!(
                        "{} demo stores with {items} menu items (fdctl store stores)",
                        fd_testkit::demo::STORES.len()
                    );
                }
                StoreCmd::List { store } => {
                    let req = st::ListStoreOrdersRequest {
                        store_id: store,
                        state: 0,
                        page_size: 100,
                        page_token: String::new(),
                    };
                    for t in c
                        .list_store_orders(req)
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .orders
                    {
                        show(&t);
                    }
                }
                StoreCmd::Accept { order_id } => {
                    let t = c
                        .accept_order(st::AcceptOrderRequest { order_id })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .order;
                    show(&t.context("empty response")?);
                }
                StoreCmd::Reject { order_id, reason } => {
                    let t = c
                        .reject_order(st::RejectOrderRequest { order_id, reason })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .order;
                    show(&t.context("empty response")?);
                }
                StoreCmd::Finish { order_id } => {
                    let t = c
                        .finish_cooking(st::FinishCookingRequest { order_id })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .order;
                    show(&t.context("empty response")?);
                }
            }
            Ok(())
        }
        Command::Delivery(cmd) => {
            use fd_proto::delivery::v1 as dv;
            let mut c = dv::delivery_service_client::DeliveryServiceClient::new(
                authed(&who, &cli.delivery_addr).await?,
            );
            let d = match cmd {
                DeliveryCmd::Get { order_id } => {
                    c.get_delivery(dv::GetDeliveryRequest { order_id })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .delivery
                }
                DeliveryCmd::PickUp { order_id, rider } => {
                    c.pick_up(dv::PickUpRequest {
                        order_id,
                        rider_id: rider,
                    })
                    .await
                    .map_err(explain)?
                    .into_inner()
                    .delivery
                }
                DeliveryCmd::Complete { order_id } => {
                    c.complete_delivery(dv::CompleteDeliveryRequest { order_id })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .delivery
                }
            };
            let d = d.context("empty response")?;
            println!(
                "delivery {}  order {}  {}  rider {}",
                d.delivery_id,
                d.order_id,
                d.state()
                    .as_str_name()
                    .trim_start_matches("DELIVERY_STATE_"),
                if d.rider_id.is_empty() {
                    "-"
                } else {
                    &d.rider_id
                }
            );
            Ok(())
        }
        Command::Notifications { customer, order } => {
            use fd_proto::notification::v1 as nt;
            let mut c = nt::notification_service_client::NotificationServiceClient::new(
                authed(&who, &cli.notification_addr).await?,
            );
            let req = nt::ListNotificationsRequest {
                customer_id: customer,
                order_id: order,
                page_size: 100,
                page_token: String::new(),
            };
            let list = c
                .list_notifications(req)
                .await
                .map_err(explain)?
                .into_inner()
                .notifications;
            for n in list.iter().rev() {
                let at = n.send_time.as_ref().map_or("(pending)".into(), rfc3339);
                println!("  {at}  {}", n.message);
            }
            Ok(())
        }
        Command::Marketing(cmd) => {
            use fd_proto::marketing::v1 as mk;
            let mut c = mk::marketing_service_client::MarketingServiceClient::new(
                authed(&who, &cli.marketing_addr).await?,
            );
            match cmd {
                MarketingCmd::Coupons { customer } => {
                    let req = mk::ListCouponsRequest {
                        customer_id: customer,
                        page_size: 100,
                        page_token: String::new(),
                    };
                    let list = c.list_coupons(req).await.map_err(explain)?.into_inner();
                    for k in list.coupons {
                        let spend = money(&k.spend);
                        let until = k.expire_time.as_ref().map_or(String::new(), rfc3339);
                        println!(
                            "  {}  {}% off  ({}: {} delivered orders, {spend})  valid until {until}",
                            k.code, k.percent_off, k.period, k.delivered_orders
                        );
                    }
                }
                MarketingCmd::Recommendations { customer } => {
                    let req = mk::ListRecommendationsRequest {
                        customer_id: customer,
                        max_results: 5,
                    };
                    let list = c
                        .list_recommendations(req)
                        .await
                        .map_err(explain)?
                        .into_inner();
                    for r in list.recommendations {
                        println!(
                            "  {} at {} (score {}, goes with {})",
                            r.name, r.store_id, r.score, r.because_of_menu_item_id
                        );
                    }
                }
                MarketingCmd::Digests { customer } => {
                    let req = mk::ListDigestsRequest {
                        customer_id: customer,
                        page_size: 100,
                        page_token: String::new(),
                    };
                    let list = c.list_digests(req).await.map_err(explain)?.into_inner();
                    for d in list.digests {
                        let names: Vec<&str> =
                            d.recommendations.iter().map(|r| r.name.as_str()).collect();
                        println!(
                            "  {} ({})  recommends: {}  coupons: {}",
                            d.local_date,
                            d.time_zone,
                            names.join(", "),
                            d.coupon_codes.join(", ")
                        );
                    }
                }
                MarketingCmd::Digest {
                    customer,
                    time_zone,
                    off,
                } => {
                    let req = mk::SetDigestPreferencesRequest {
                        customer_id: customer,
                        time_zone,
                        enabled: !off,
                    };
                    let p = c
                        .set_digest_preferences(req)
                        .await
                        .map_err(explain)?
                        .into_inner();
                    if p.enabled {
                        println!(
                            "  {}'s digest: every day at 09:00 {}",
                            p.customer_id, p.time_zone
                        );
                    } else {
                        println!("  {}'s digest: off", p.customer_id);
                    }
                }
            }
            Ok(())
        }
        Command::Order(cmd) => {
            let mut c = order::order_service_client::OrderServiceClient::new(
                authed(&who, &cli.order_addr).await?,
            );
            match cmd {
                OrderCmd::Quote { store, items } => {
                    let lines = items
                        .iter()
                        .map(|s| parse_line(s))
                        .collect::<Result<_, _>>()?;
                    let q = c
                        .quote_order(order::QuoteOrderRequest {
                            store_id: store,
                            lines,
                        })
                        .await
                        .map_err(explain)?
                        .into_inner();
                    print_lines(&q.lines);
                    println!("total    {}", money(&q.total));
                }
                OrderCmd::Place {
                    customer,
                    store,
                    items,
                    currency,
                    address,
                    key,
                } if items.iter().all(|i| v1::is_v1_item(i)) => {
                    let place = v1::Place {
                        key: key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                        customer,
                        store,
                        items: &items,
                        currency: &currency,
                        address,
                    };
                    let order_id = v1::place(authed(&who, &cli.order_addr).await?, place)
                        .await?
                        .map_err(explain)?;
                    let o = c
                        .get_order(order::GetOrderRequest { order_id })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .order;
                    print_order(&o.context("empty response")?);
                }
                OrderCmd::Place {
                    customer,
                    store,
                    items,
                    currency: _,
                    address,
                    key,
                } => {
                    let lines = items
                        .iter()
                        .map(|s| parse_line(s))
                        .collect::<Result<_, _>>()?;
                    let req = order::PlaceOrderRequest {
                        idempotency_key: key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                        customer_id: customer,
                        store_id: store,
                        lines,
                        delivery_address: address,
                    };
                    let o = c
                        .place_order(req)
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .order
                        .context("empty response")?;
                    print_order(&o);
                }
                OrderCmd::Get { order_id } => {
                    let o = c
                        .get_order(order::GetOrderRequest { order_id })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .order;
                    print_order(&o.context("empty response")?);
                }
                OrderCmd::Cancel { order_id, reason } => {
                    let o = c
                        .cancel_order(order::CancelOrderRequest { order_id, reason })
                        .await
                        .map_err(explain)?
                        .into_inner()
                        .order;
                    print_order(&o.context("empty response")?);
                }
                OrderCmd::List { customer } => {
                    let mut token = String::new();
                    loop {
                        let req = order::ListOrdersRequest {
                            customer_id: customer.clone(),
                            page_size: 100,
                            page_token: token,
                        };
                        let page = c.list_orders(req).await.map_err(explain)?.into_inner();
                        for o in &page.orders {
                            println!(
                                "{}  {:<16} {}",
                                o.order_id,
                                o.state().as_str_name().trim_start_matches("ORDER_STATE_"),
                                money(&o.total)
                            );
                        }
                        if page.next_page_token.is_empty() {
                            break;
                        }
                        token = page.next_page_token;
                    }
                }
                OrderCmd::Watch { order_id } => {
                    let mut s = c
                        .watch_order(order::WatchOrderRequest { order_id })
                        .await
                        .map_err(explain)?
                        .into_inner();
                    while let Some(msg) = s.next().await {
                        if let Some(o) = msg.map_err(explain)?.order {
                            print_order(&o);
                            println!();
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fdctl: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's arguments are consistent (clap checks them only when that
    /// subcommand runs).
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
