//! Who may do what on NATS: one user per service, allowed to publish only its own context's
//! events and dead letters, to create and update only its own stream, and to read only the
//! streams its [`Definition`](fd_chassis::service::Definition) says it consumes; an admin user
//! for operators and tools. The nats-server configuration is generated here for every place
//! it is needed — `make run` ([`LocalAuth`]), Kubernetes and docker-compose (`fdctl nats-auth`)
//! — so the permissions are written down once.
//!
//! A service's grants (service `s`, its context's stream `S`, each consumed stream `T`):
//!
//! | publish | why |
//! |---|---|
//! | `fooddelivery.s.>`, `deadletter.s.>` | its events (through JetStream), its dead letters |
//! | `$JS.API.INFO` | JetStream account checks |
//! | `$JS.API.STREAM.{INFO,CREATE,UPDATE}.S` | the relay keeps its own stream's config |
//! | `$JS.API.STREAM.{INFO,CREATE}.DEADLETTER` | creates the dead-letter stream if missing (never changes it) |
//! | `$JS.API.STREAM.INFO.T`, `$JS.API.CONSUMER.{CREATE,DURABLE.CREATE,INFO,MSG.NEXT}.T.>`, `$JS.ACK.T.>` | its durable pull consumers |
//!
//! and it subscribes only to `_INBOX_s.>` (its replies and pulled messages). No delete, no
//! purge, no reading of a stream it does not consume, no core subscription to events.

use std::fmt::Write as _;

/// Which contexts each service consumes; `tests/system` checks it against every service's
/// `Definition::consumes`, and a service refuses at start to consume anything else.
pub const CONSUMES: [(&str, &[&str]); 6] = [
    ("payment", &["order", "store"]),
    ("order", &["store", "delivery", "payment"]),
    ("store", &["order"]),
    ("delivery", &["store", "order"]),
    ("notification", &["order", "store", "delivery"]),
    // The Python service: its consumer record (tests/contracts/consumers/marketing.json) names
    // the events, and the contract tests check that record against its code.
    ("marketing", &["order", "delivery"]),
];

/// The name of the user that may do anything (operators, `fdctl`, tests' checks).
pub const ADMIN: &str = "admin";

/// What one user may publish and subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects it may publish to.
    pub publish: Vec<String>,
    /// Subjects it may subscribe to.
    pub subscribe: Vec<String>,
}

/// The grants of `service`, which consumes the contexts `consumes` (see the module docs).
pub fn permissions(service: &str, consumes: &[&str]) -> Permissions {
    let own = fd_chassis::nats::stream_name(service);
    let dl = fd_chassis::nats::DEAD_LETTER_STREAM;
    let mut publish = vec![
        format!("fooddelivery.{service}.>"),
        format!("{}.{service}.>", fd_chassis::nats::DEAD_LETTER_PREFIX),
        "$JS.API.INFO".to_string(),
        format!("$JS.API.STREAM.INFO.{own}"),
        format!("$JS.API.STREAM.CREATE.{own}"),
        format!("$JS.API.STREAM.UPDATE.{own}"),
        format!("$JS.API.STREAM.INFO.{dl}"),
        format!("$JS.API.STREAM.CREATE.{dl}"),
    ];
    for context in consumes {
        let t = fd_chassis::nats::stream_name(context);
        publish.extend([
            format!("$JS.API.STREAM.INFO.{t}"),
            format!("$JS.API.CONSUMER.CREATE.{t}.>"),
            format!("$JS.API.CONSUMER.DURABLE.CREATE.{t}.>"),
            format!("$JS.API.CONSUMER.INFO.{t}.>"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{t}.>"),
            format!("$JS.ACK.{t}.>"),
        ]);
    }
    Permissions {
        publish,
        subscribe: vec![format!("{}.>", fd_chassis::nats::inbox_prefix(service))],
    }
}

/// How a user proves who it is.
#[derive(Debug, Clone)]
pub enum Login {
    /// An nkey user: the server holds only the public key.
    Nkey {
        /// `U...`.
        public: String,
    },
    /// A user and password; `password` is written into the configuration as is (a quoted
    /// literal, or `$VAR` to have nats-server read the environment variable `VAR`).
    Password {
        /// User name.
        user: String,
        /// Password or `$VAR`.
        password: String,
    },
}

/// One entry of the server's `authorization.users`.
#[derive(Debug, Clone)]
pub struct User {
    /// Whose it is (written as a comment).
    pub name: String,
    /// How it logs in.
    pub login: Login,
    /// `None`: everything (the admin).
    pub permissions: Option<Permissions>,
}

fn quoted(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", items.join(", "))
}

/// The `authorization { users = [...] }` block of a nats-server configuration.
pub fn authorization_block(users: &[User]) -> String {
    let mut out = String::from("authorization {\n  users = [\n");
    for u in users {
        let _ = writeln!(out, "    # {}", u.name);
        let login = match &u.login {
            Login::Nkey { public } => format!("nkey: \"{public}\""),
            Login::Password { user, password } if password.starts_with('$') => {
                format!("user: \"{user}\", password: {password}")
            }
            Login::Password { user, password } => {
                format!("user: \"{user}\", password: \"{password}\"")
            }
        };
        match &u.permissions {
            None => {
                let _ = writeln!(out, "    {{ {login} }}");
            }
            Some(p) => {
                let _ = writeln!(out, "    {{ {login}, permissions: {{");
                let _ = writeln!(out, "        publish: {{ allow: {} }}", quoted(&p.publish));
                let _ = writeln!(
                    out,
                    "        subscribe: {{ allow: {} }}",
                    quoted(&p.subscribe)
                );
                let _ = writeln!(out, "    }} }}");
            }
        }
    }
    out.push_str("  ]\n}\n");
    out
}

/// The service users plus the admin, each with `login(name)`.
pub fn users(login: impl Fn(&str) -> Login) -> Vec<User> {
    let mut users: Vec<User> = CONSUMES
        .iter()
        .map(|(service, consumes)| User {
            name: format!("service {service}"),
            login: login(service),
            permissions: Some(permissions(service, consumes)),
        })
        .collect();
    users.push(User {
        name: "admin: operators and tools".into(),
        login: login(ADMIN),
        permissions: None,
    });
    users
}

/// A fresh nkey user: `(seed, public key)`.
pub fn new_nkey() -> (String, String) {
    let kp = nkeys::KeyPair::new_user();
    let seed = kp.seed().expect("a new key pair has a seed");
    (seed, kp.public_key())
}

/// Server-side TLS: the server's certificate and key (PEM); with `ca_file`, clients must
/// present a certificate that CA signed.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate chain.
    pub cert_file: std::path::PathBuf,
    /// Its key.
    pub key_file: std::path::PathBuf,
    /// CA of client certificates (mutual TLS), if required.
    pub ca_file: Option<std::path::PathBuf>,
}

/// The credentials of one locally run system: a fresh nkey per service and an admin password,
/// made anew each time a system starts (nothing to leak between runs).
#[derive(Clone)]
pub struct LocalAuth {
    seeds: Vec<(String, String, String)>,
    admin_password: String,
}

impl std::fmt::Debug for LocalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalAuth(<redacted>)")
    }
}

impl Default for LocalAuth {
    fn default() -> Self {
        Self::generate()
    }
}

impl LocalAuth {
    /// New keys for every service, a new admin password.
    pub fn generate() -> Self {
        let seeds = CONSUMES
            .iter()
            .map(|(s, _)| {
                let (seed, public) = new_nkey();
                (s.to_string(), seed, public)
            })
            .collect();
        Self {
            seeds,
            admin_password: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// The users block: nkeys for the services, a password for the admin.
    pub fn authorization(&self) -> String {
        authorization_block(&users(|name| {
            match self.seeds.iter().find(|(s, _, _)| s == name) {
                Some((_, _, public)) => Login::Nkey {
                    public: public.clone(),
                },
                None => Login::Password {
                    user: ADMIN.into(),
                    password: self.admin_password.clone(),
                },
            }
        }))
    }

    /// A whole nats-server configuration: loopback `port`, JetStream under `store_dir`, these
    /// users, and TLS if given.
    pub fn server_config(
        &self,
        port: u16,
        store_dir: &std::path::Path,
        tls: Option<&ServerTls>,
    ) -> String {
        let mut out = format!(
            "# Generated at every start by the system launcher (fd_testkit::nats_auth); edits are lost.\n\
             listen: \"127.0.0.1:{port}\"\n\
             jetstream {{ store_dir: \"{}\" }}\n",
            store_dir.display()
        );
        if let Some(tls) = tls {
            let _ = writeln!(
                out,
                "tls {{ cert_file: \"{}\", key_file: \"{}\"{} }}",
                tls.cert_file.display(),
                tls.key_file.display(),
                tls.ca_file
                    .as_ref()
                    .map(|ca| format!(", ca_file: \"{}\", verify: true", ca.display()))
                    .unwrap_or_default()
            );
        }
        out.push_str(&self.authorization());
        out
    }

    /// The environment that makes service `name` log in as itself.
    pub fn service_env(&self, name: &str) -> Vec<(String, String)> {
        self.seeds
            .iter()
            .filter(|(s, _, _)| s == name)
            .map(|(_, seed, _)| ("NATS_NKEY_SEED".to_string(), seed.clone()))
            .collect()
    }

    /// The seed of service `name` (tests log in as a service to prove what it may not do).
    pub fn seed(&self, name: &str) -> Option<&str> {
        self.seeds
            .iter()
            .find(|(s, _, _)| s == name)
            .map(|(_, seed, _)| seed.as_str())
    }

    /// `url` with the admin's user and password in it (`nats://admin:...@host:port`; each
    /// server of a comma-separated list).
    pub fn admin_url(&self, url: &str) -> String {
        fd_chassis::nats::servers(url)
            .map(|server| match server.split_once("://") {
                Some((scheme, rest)) => {
                    format!("{scheme}://{ADMIN}:{}@{rest}", self.admin_password)
                }
                None => server.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What makes a server node `name` of a local JetStream cluster: its name, its cluster port
/// on loopback and routes to the other nodes' cluster ports.
pub fn cluster_block(name: &str, cluster_port: u16, routes: impl Iterator<Item = u16>) -> String {
    let routes: Vec<String> = routes
        .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
        .collect();
    format!(
        "server_name: \"{name}\"\n\
         cluster {{\n  name: \"fooddelivery\"\n  listen: \"127.0.0.1:{cluster_port}\"\n  routes: [{}]\n}}\n",
        routes.join(", ")
    )
}

/// The environment variable docker-compose passes nats-server with `user`'s password.
pub fn password_var(user: &str) -> String {
    format!("{}_NATS_PASSWORD", user.to_ascii_uppercase())
}

/// `deploy/nats.conf`, the server configuration of docker-compose: the same users and grants,
/// logging in with passwords that nats-server reads from its environment
/// (`ORDER_NATS_PASSWORD`, ..., `ADMIN_NATS_PASSWORD`; docker-compose.yml sets them).
pub fn compose_config() -> String {
    let mut out = String::from(
        "# Generated by `fdctl nats-auth --compose > deploy/nats.conf` (a test checks it is up to\n\
         # date): one user per service with only its grants (libs/testkit/src/nats_auth.rs).\n\
         listen: \"0.0.0.0:4222\"\n\
         http_port: 8222\n\
         jetstream { store_dir: \"/data\" }\n",
    );
    out.push_str(&authorization_block(&users(|name| Login::Password {
        user: name.to_string(),
        password: format!("${}", password_var(name)),
    })));
    out
}

impl LocalAuth {
    /// The Kubernetes Secret `fooddelivery-nats` with each service's seed (`<service>-nkey-seed`)
    /// and the admin's password (`admin-password`), for `kubectl apply -f`.
    pub fn kubernetes_secret(&self, namespace: &str) -> String {
        let mut out = format!(
            "# Generated by `fdctl nats-auth`: each service's NATS key; the server holds only the\n\
             # public keys (nats-auth.conf). Keep it out of version control.\n\
             apiVersion: v1\nkind: Secret\nmetadata:\n  name: fooddelivery-nats\n  \
             namespace: {namespace}\ntype: Opaque\nstringData:\n"
        );
        for (service, seed, _) in &self.seeds {
            let _ = writeln!(out, "  {service}-nkey-seed: \"{seed}\"");
        }
        let _ = writeln!(out, "  admin-password: \"{}\"", self.admin_password);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_publishes_only_its_own_context_and_reads_only_what_it_consumes() {
        let p = permissions("store", &["order"]);
        assert!(p.publish.contains(&"fooddelivery.store.>".to_string()));
        assert!(p
            .publish
            .contains(&"$JS.API.STREAM.UPDATE.STORE".to_string()));
        assert!(p
            .publish
            .contains(&"$JS.API.CONSUMER.MSG.NEXT.ORDER.>".to_string()));
        for denied in ["fooddelivery.order.>", "fooddelivery.>", "$JS.API.>"] {
            assert!(!p.publish.iter().any(|s| s == denied), "{denied}");
        }
        assert!(!p.publish.iter().any(|s| s.contains("DELETE")));
        assert!(!p.publish.iter().any(|s| s.contains("UPDATE.ORDER")));
        assert!(!p.publish.iter().any(|s| s.contains("UPDATE.DEADLETTER")));
        assert_eq!(p.subscribe, ["_INBOX_store.>"]);
    }

    #[test]
    fn the_generated_block_holds_no_seed() {
        let auth = LocalAuth::generate();
        let conf = auth.authorization();
        for (name, _) in CONSUMES {
            let seed = auth.seed(name).expect("seed");
            assert!(seed.starts_with("SU"));
            assert!(!conf.contains(seed), "{name}'s seed is in the config");
        }
        assert_eq!(conf.matches("nkey:").count(), CONSUMES.len());
    }
}
