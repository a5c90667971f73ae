//! `mcp2 serve ROUTES`: compile the routes and run the gateway until SIGINT/SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::admin_token::AdminToken;
use crate::check::values::positive_duration_flag;
use crate::check::{self, ProcessEnv};
use crate::cluster::ended::EndedSessions;
use crate::cluster::limiter::{RedisLimiter, Unavailable};
use crate::cluster::seal::SessionKey;
use crate::gateway::{Binding, CachePolicy, Gateway};
use crate::plan::{AdminSettings, ClusterSettings, Plan, ProfileName, Secret, ServeSettings};
use crate::reload::{self, Reloader, Trigger};
use crate::source::SourceSet;
use crate::{serve, telemetry};

/// Run the gateway.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A route file or a directory of `.mcproute` / `.yaml` / `.yml` files.
    pub routes: PathBuf,
    /// Address to bind, overriding the routes' `listen` (default 127.0.0.1).
    #[arg(long)]
    pub host: Option<IpAddr>,
    /// Port to bind, overriding the routes' `listen` (default 8210; 0 picks a free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Serve one client over stdin/stdout instead of HTTP (for clients that spawn their servers).
    #[arg(long)]
    pub stdio: bool,
    /// With --stdio: the profile to serve (default: the routes' default profile).
    #[arg(long, requires = "stdio")]
    pub profile: Option<String>,
    /// Serve the admin endpoints (`/_mcp2/*`) on this address instead of beside the MCP
    /// endpoints (`127.0.0.1:9210`; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub admin: AdminToken,
    /// Do not reload when route files change (SIGHUP and `POST /_mcp2/reload` still reload).
    #[arg(long)]
    pub no_watch: bool,
    /// Seal Streamable HTTP session ids with this key (32 bytes as base64 or hex, e.g.
    /// `openssl rand -base64 32`): every replica given the same key serves every session.
    /// Overrides the routes' `cluster { session-key … }`.
    #[arg(
        long,
        env = "MCP2_SESSION_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub session_key: Option<String>,
    /// Share rate limits and list changes with the other replicas through this Redis
    /// (`redis://host:6379`). Overrides the routes' `cluster { redis … }`.
    #[arg(
        long,
        env = "MCP2_REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis: Option<String>,
    /// What a rate-limit check does when Redis cannot answer: admit (counted as a warning) or
    /// refuse. Overrides the routes' `cluster { on-redis-unavailable … }` (default: allow).
    #[arg(long, env = "MCP2_REDIS_UNAVAILABLE", value_enum)]
    pub redis_unavailable: Option<Unavailable>,
    /// Largest HTTP request body accepted, in bytes or with a unit (`4MiB`); larger ones get
    /// 413. Overrides the routes' `limits { max-body … }` (default 4MiB).
    #[arg(long, env = "MCP2_MAX_BODY", value_name = "SIZE", value_parser = size)]
    pub max_body: Option<usize>,
    /// How long a client may take to send a request's headers before its connection is closed
    /// (slow clients, slow-loris). Overrides the routes' `limits { header-timeout … }`
    /// (default 10s).
    #[arg(long, env = "MCP2_HEADER_TIMEOUT", value_name = "DURATION", value_parser = positive_duration_flag)]
    pub header_timeout: Option<std::time::Duration>,
    /// How long a Streamable HTTP session may go without a request before it is closed; its
    /// id then gets 404 and the client initializes a new one. Overrides the routes'
    /// `limits { idle-timeout … }` (default 30m).
    #[arg(long, env = "MCP2_IDLE_TIMEOUT", value_name = "DURATION", value_parser = positive_duration_flag)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Threads serving requests (default: one per CPU core). Fewer than the cores can serve
    /// more calls per core where mcp2 shares a small machine with its upstreams.
    #[arg(long, env = "MCP2_WORKER_THREADS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,
}

/// `--max-body 4MiB`: the routes' size syntax.
fn size(text: &str) -> Result<usize, String> {
    crate::check::serving::parse_size(text)
}

impl ServeArgs {
    /// The routes' `limits { … }`, each value overridden by its flag or variable.
    fn limits(&self, routes: &ServeSettings) -> serve::ServeLimits {
        serve::ServeLimits {
            max_body: self.max_body.unwrap_or(routes.max_body),
            header_read_timeout: self.header_timeout.unwrap_or(routes.header_timeout),
            idle_session: self.idle_timeout.unwrap_or(routes.idle_timeout),
        }
    }

    /// The routes' `cluster { … }`, each value overridden by its flag or variable. An empty
    /// flag or variable counts as unset.
    fn cluster(&self, routes: Option<&ClusterSettings>) -> Cluster {
        let key = match self.session_key.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => Some(("MCP2_SESSION_KEY", k.to_owned())),
            None => routes
                .and_then(|c| c.session_key.as_ref())
                .map(|k| ("cluster { session-key }", k.expose().to_owned())),
        };
        let redis = match self.redis.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => Some(u.to_owned()),
            None => routes
                .and_then(|c| c.redis.as_ref())
                .map(|u| u.expose().to_owned()),
        };
        let policy = self
            .redis_unavailable
            .unwrap_or_else(|| routes.map(|c| c.on_redis_unavailable).unwrap_or_default());
        Cluster { key, redis, policy }
    }
}

/// What replicas share, flags and routes combined.
struct Cluster {
    /// Where the key came from (for its error) and the key.
    key: Option<(&'static str, String)>,
    redis: Option<String>,
    policy: Unavailable,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let sources = match SourceSet::load(&args.routes) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let compiled = check::compile(&sources, &ProcessEnv);
    super::output::print_diagnostics(&compiled.diagnostics, &sources);
    let Some(plan) = compiled.plan else {
        eprintln!("error: the routes have errors; nothing was started");
        return ExitCode::from(super::EXIT_FINDINGS);
    };
    let _log = telemetry::init(&plan.logging);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.worker_threads {
        runtime.worker_threads(usize::from(threads));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run_async(args, plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn run_async(args: ServeArgs, plan: Plan) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    tokio::spawn(signals(shutdown.clone()));
    let listen = SocketAddr::new(
        args.host.unwrap_or(plan.listen.ip()),
        args.port.unwrap_or(plan.listen.port()),
    );
    let profile = match &args.profile {
        Some(p) if plan.profile(p).is_none() => {
            return Err(format!("no profile named `{p}` in the routes"));
        }
        Some(p) => ProfileName::new(p),
        None => plan.default_profile.clone(),
    };
    let endpoints: Vec<String> = plan
        .endpoints
        .iter()
        .map(|e| format!("{} -> {}", e.path, e.profile))
        .collect();
    let configured_listen = plan.listen;
    let admin_settings = plan.admin.clone();
    let limits = args.limits(&plan.serve);
    let cluster = args.cluster(plan.cluster.as_ref());
    let key = match &cluster.key {
        Some((from, k)) => Some(SessionKey::parse(k).map_err(|e| format!("{from}: {e}"))?),
        None => None,
    };
    let gateway = Gateway::start(plan, CachePolicy::default()).await;
    let mut sharing = serve::sessions::Sharing { key, ended: None };
    if let Some(url) = cluster.redis.as_deref() {
        if sharing.key.is_some() {
            let ended = EndedSessions::new(url, limits.idle_session).map_err(|e| e.to_string())?;
            sharing.ended = Some(Arc::new(ended));
        }
        let limiter = RedisLimiter::new(url, cluster.policy).map_err(|e| e.to_string())?;
        gateway.use_limiter(Box::new(limiter));
        crate::cluster::bus::spawn(&gateway, url, shutdown.clone()).map_err(|e| e.to_string())?;
        tracing::info!(on_unavailable = ?cluster.policy, "rate limits and list changes shared through Redis");
    }
    let reloader = Reloader::new(
        gateway.clone(),
        args.routes.clone(),
        Box::new(ProcessEnv),
        configured_listen,
    );
    if !args.no_watch
        && let Err(e) = reload::watch::spawn(reloader.clone(), shutdown.clone())
    {
        tracing::warn!("{e}; routes reload on SIGHUP and POST /_mcp2/reload only");
    }
    tokio::spawn(reload_on_sighup(reloader.clone(), shutdown.clone()));
    let result = if args.stdio {
        let binding = Binding {
            profile,
            only_upstream: None,
        };
        serve::serve_stdio(gateway.clone(), binding, shutdown.clone()).await
    } else {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(address = %bound, endpoints = ?endpoints, "mcp2 serving");
        let admin = admin_options(&args, &admin_settings).await?;
        // A stable line for scripts and tests (`--port 0`): `mcp2 listening on http://ADDR (…)`.
        eprintln!(
            "mcp2 listening on http://{bound} ({})",
            endpoints.join(", ")
        );
        serve::serve_http_with(
            listener,
            Arc::clone(&gateway),
            Some(reloader),
            admin,
            limits,
            sharing,
            shutdown.clone(),
        )
        .await
    };
    gateway.shutdown().await;
    result.map_err(|e| e.to_string())
}

/// Binds the admin listener (if asked) and prints its stable line:
/// `mcp2 admin listening on http://ADDR`. The CLI (and `MCP2_ADMIN_TOKEN`) overrides the
/// routes' `admin { … }`; both are read once, at start.
async fn admin_options(
    args: &ServeArgs,
    routes: &AdminSettings,
) -> Result<serve::admin::AdminOptions, String> {
    let token = args
        .admin
        .get()
        .filter(|t| !t.is_empty())
        .map(|t| Secret::new(t, vec!["MCP2_ADMIN_TOKEN".into()]))
        .or_else(|| routes.token.clone());
    let listener = match args.admin_listen.or(routes.listen) {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} for the admin endpoints: {e}"))?;
            let bound = listener.local_addr().map_err(|e| e.to_string())?;
            eprintln!("mcp2 admin listening on http://{bound}");
            Some(listener)
        }
        None => None,
    };
    Ok(serve::admin::AdminOptions { listener, token })
}

/// Reloads the routes on every SIGHUP, until `shutdown`.
async fn reload_on_sighup(reloader: Arc<Reloader>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot install the SIGHUP handler; reload with POST /_mcp2/reload");
            return;
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the routes");
                    reloader.reload(Trigger::Signal).await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (reloader, shutdown);
    }
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn signals(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot install signal handlers; stop mcp2 with SIGKILL");
            return;
        };
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}
