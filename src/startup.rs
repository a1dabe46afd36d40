//! Building the server from a configuration, and running it until told to stop.

use axum::Router;
use axum::routing::post;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::{App, shell};
use crate::config::Config;
use crate::reconciler::Reconciler;
use crate::runtime::Runtime;
use crate::runtime::activity::ActivitySink;
use crate::runtime::builtin::BuiltinRuntime;
use crate::service::Service;
use crate::store::{Store, StoreError};
use crate::telemetry;

/// Why the server could not start; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the egress policy does not read: {0}")]
    Egress(String),
    /// The secret key is missing, does not read, or is not the database's.
    #[error("{0}")]
    SecretKey(String),
    #[error("cannot create the first administrator: {0}")]
    FirstAdmin(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What every request handler and server function can reach, behind one pointer:
/// axum clones the state for every request it routes.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Each part of the state as an extractor's `State<T>`.
macro_rules! state_parts {
    ($($field:ident: $kind:ty),* $(,)?) => {$(
        impl axum::extract::FromRef<AppState> for $kind {
            fn from_ref(state: &AppState) -> Self {
                state.0.$field.clone()
            }
        }
    )*};
}

state_parts!(
    leptos_options: LeptosOptions,
    service: Service,
    runtime: Arc<dyn Runtime>,
    webhook_body_limit: BodyLimit,
    boundary: crate::api::boundary::Boundary,
    metrics: crate::metrics::Metrics,
    limits: crate::api::limits::RequestLimits,
    events: crate::api::rest::events::EventHub,
);

/// What [`AppState`] holds.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub service: Service,
    /// Where webhook calls are dispatched: the runtime the reconciler deploys to.
    pub runtime: Arc<dyn Runtime>,
    pub webhook_body_limit: BodyLimit,
    pub boundary: crate::api::boundary::Boundary,
    pub metrics: crate::metrics::Metrics,
    pub limits: crate::api::limits::RequestLimits,
    pub events: crate::api::rest::events::EventHub,
}

/// The largest webhook body accepted, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A server that is bound to its port and connected to its database, ready to run.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    store: Store,
    service: Service,
    runtime: Arc<BuiltinRuntime>,
    reconciler: Option<Reconciler>,
    activity: ActivitySink,
    /// Turns true when the server begins to stop; the service watches it.
    stop: watch::Sender<bool>,
    shutdown_timeout: std::time::Duration,
}

impl Application {
    /// Prepares everything that can fail at start, so that a bad configuration stops
    /// the process before it claims to be serving.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartupError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let store = Store::connect(&config.database_url()).await?;
        let store = unlock_secrets(store, config)
            .await
            .map(|(store, _)| store)
            .map_err(StartupError::SecretKey)?;
        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.addr,
            source,
        })?;
        let metrics = crate::metrics::Metrics::new();
        let activity = ActivitySink::start(store.clone(), config.activity_keep, metrics.clone());
        let egress = crate::runtime::egress::EgressPolicy::from_lists(
            &config.egress_allow,
            &config.egress_deny,
        )
        .map_err(StartupError::Egress)?
        .counting_refusals(metrics.egress_refusals.clone());
        let egress = Arc::new(egress);
        let http =
            crate::runtime::egress::HttpEgress::new(egress.clone(), config.http_answer_limit);
        let connectors =
            crate::runtime::sql::Connectors::new(egress.clone(), config.connection_pool_size);
        let brokers = crate::runtime::brokers::Brokers::new(egress);
        let render = crate::runtime::flow::RenderLimits::new(
            config.render_output_limit,
            std::time::Duration::from_millis(config.render_deadline_ms),
        );
        // Timers run only while the reconciler's leases are surely this server's; a
        // server without a reconciler has no leases to keep, and runs what it is told.
        let fence = match config.no_reconciler {
            false => crate::reconciler::fence::Fence::closed(),
            true => crate::reconciler::fence::Fence::open(),
        };
        let runtime = Arc::new(
            BuiltinRuntime::new(activity.clone(), http.clone(), render)
                .with_metrics(metrics.clone())
                .with_fence(fence.clone())
                .with_message_limit(config.webhook_body_limit)
                .with_connections(crate::runtime::builtin::ConnectionSource {
                    store: store.clone(),
                    connectors: connectors.clone(),
                    brokers: brokers.clone(),
                }),
        );
        let owner = replica_id(config)?;
        let reconciler = Reconciler::new(
            store.clone(),
            runtime.clone() as Arc<dyn Runtime>,
            config.reconciler(owner),
        )
        .with_metrics(metrics.clone())
        .with_fence(fence);
        let (stop, stopping) = watch::channel(false);
        let service = Service::new(store.clone(), reconciler.waker(), config.session_policy())
            .stopped_by(stopping)
            .with_connectors(connectors, http, brokers, protected_paths(config))
            .with_runtime(runtime.clone() as Arc<dyn Runtime>);
        first_admin(config, &service).await?;
        let state = AppState(Arc::new(Shared {
            leptos_options: leptos_options(config, addr),
            service: service.clone(),
            runtime: runtime.clone() as Arc<dyn Runtime>,
            webhook_body_limit: BodyLimit(config.webhook_body_limit),
            boundary: boundary(config, addr),
            metrics,
            events: crate::api::rest::events::EventHub::start(&service),
            limits: crate::api::limits::RequestLimits::new(
                std::time::Duration::from_secs(config.request_timeout),
                config.max_concurrent_requests,
                config.max_event_streams,
            ),
        }));
        let sessions = crate::api::auth::session_layer(
            &store,
            config.session_policy().idle,
            config.is_https(),
        );
        Ok(Self {
            listener,
            addr,
            router: router(state, sessions),
            store,
            service,
            runtime,
            reconciler: (!config.no_reconciler).then_some(reconciler),
            activity,
            stop,
            shutdown_timeout: std::time::Duration::from_secs(config.shutdown_timeout),
        })
    }

    /// The address actually bound (the port is chosen by the system when asked for 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The application layer, as the server's transports call it.
    pub fn service(&self) -> &Service {
        &self.service
    }

    pub fn runtime(&self) -> &Arc<BuiltinRuntime> {
        &self.runtime
    }

    /// Serves, and reconciles, until `shutdown` completes. Then, in order: event
    /// streams end and no new connection is taken; requests in flight finish, for at
    /// most the shutdown timeout; the reconciler finishes the integration in hand,
    /// stops every flow and only then hands its leases back (so that another server
    /// never runs a flow this one still runs); the activity still queued is written;
    /// the database pool closes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.stop;
        let stopped = stop.subscribe();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let reconciler = self.reconciler.map(|reconciler| {
            let stopped = stopped.clone();
            tokio::spawn(reconciler.run(wait_for(stopped)))
        });
        tokio::spawn(forget_expired_sessions(
            self.store.clone(),
            wait_for(stopped.clone()),
        ));
        // The peer's address goes into the audit and the sign-in rate limit.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let mut serving = tokio::spawn(
            axum::serve(self.listener, service)
                .with_graceful_shutdown(wait_for(stopped.clone()))
                .into_future(),
        );
        let timeout = self.shutdown_timeout;
        let served = tokio::select! {
            served = &mut serving => served,
            () = async {
                wait_for(stopped).await;
                tokio::time::sleep(timeout).await;
            } => {
                tracing::warn!(
                    "requests still in flight {} s after the stop signal are cut off",
                    timeout.as_secs()
                );
                serving.abort();
                Ok(Ok(()))
            }
        };
        let served = served.unwrap_or_else(|err| Err(std::io::Error::other(err)));
        if let Some(reconciler) = reconciler {
            let _ = reconciler.await;
        }
        // Without a reconciler nothing handed leases back; the flows stop all the same.
        self.runtime.stop_all().await;
        self.activity.finish(timeout).await;
        self.store.close().await;
        served
    }
}

/// Deletes expired sessions now and then: a session nobody comes back with would
/// otherwise stay in the table for good (tower-sessions only reads its expiry).
async fn forget_expired_sessions(store: Store, stop: impl Future<Output = ()>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(600);
    let work = async {
        loop {
            match store.delete_expired_sessions().await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "forgot expired sessions"),
                Err(err) => tracing::warn!(error = %err, "cannot delete expired sessions"),
            }
            tokio::time::sleep(EVERY).await;
        }
    };
    tokio::select! {
        () = work => {},
        () = stop => {},
    }
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stopped| *stopped).await;
}

/// The host names answered for: the public URL's, and loopback names on loopback.
fn boundary(config: &Config, addr: SocketAddr) -> crate::api::boundary::Boundary {
    let loopback = addr.ip().is_loopback();
    if !loopback && config.public_host().is_none() {
        tracing::warn!(
            %addr,
            "listening beyond loopback without --public-url: every host name is answered for; \
             set --public-url to the address people use"
        );
    }
    crate::api::boundary::Boundary::new(config.public_host(), loopback)
}

/// Creates the administrator named by `--admin-user` and `--admin-password` while no
/// user exists; once one does, the two are ignored.
async fn first_admin(config: &Config, service: &Service) -> Result<(), StartupError> {
    let (name, password) = match (&config.admin_user, &config.admin_password) {
        (None, None) => return Ok(()),
        (Some(name), Some(password)) => (name, password),
        (Some(_), None) | (None, Some(_)) => {
            return Err(StartupError::FirstAdmin(
                "JUNCTION_ADMIN_USER and JUNCTION_ADMIN_PASSWORD go together: set both".into(),
            ));
        }
    };
    match service
        .create_first_admin(name, "", password, "start-up")
        .await
    {
        Ok(Some(admin)) => {
            tracing::info!(user = %admin.name, "created the first administrator");
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(crate::error::AppError::ValidationFailed { fields }) => Err(StartupError::FirstAdmin(
            fields
                .iter()
                .map(|field| format!("{}: {}", field.path, field.message))
                .collect::<Vec<_>>()
                .join("; "),
        )),
        Err(err) => Err(StartupError::FirstAdmin(err.to_string())),
    }
}

/// This server's lease name: given, or made once and kept in the data directory so
/// that a restarted server finds its own leases and resumes at once.
fn replica_id(config: &Config) -> Result<String, StartupError> {
    if let Some(id) = config
        .replica_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        return Ok(id.to_owned());
    }
    let path = config.data_dir.join("replica-id");
    let data_dir_error = |source| StartupError::DataDir {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Ok(_) | Err(_) => {
            let id = format!("junction-{}", uuid::Uuid::new_v4().simple());
            std::fs::write(&path, &id).map_err(data_dir_error)?;
            Ok(id)
        }
    }
}

fn leptos_options(config: &Config, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("junction")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

fn router(
    state: AppState,
    sessions: tower_sessions::SessionManagerLayer<crate::store::sessions::Sessions>,
) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let service = state.service.clone();
        move || provide_context(service.clone())
    };
    let render_shell = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    // Webhooks are public and carry no cookies: they are merged in after the session
    // and caller layers, which would only cost them time.
    let hooks = Router::new().route("/hooks/{path}", post(crate::api::hooks::call_webhook));
    Router::new()
        .merge(crate::api::rest::routes())
        .route(
            crate::api::import_form::PATH,
            post(crate::api::import_form::upload).layer(axum::extract::DefaultBodyLimit::max(
                crate::api::rest::MAX_IMPORT_BODY + 64 * 1024,
            )),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), render_shell)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(axum::middleware::from_fn(crate::api::error_status))
        .layer(axum::middleware::from_fn_with_state(
            state.service.clone(),
            crate::api::auth::identify,
        ))
        .layer(sessions)
        .merge(hooks)
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(axum::middleware::from_fn(telemetry::scope_request_id)),
        )
        .with_state(state)
}

/// Every request's first middleware: counted by the route it matched and the status
/// answered (outside everything else, so that a refusal by the boundary or the
/// sign-in counts too), then the request limits, then the boundary. One middleware,
/// not three: each `from_fn` layer clones the whole service inside it for every
/// request, which cost a webhook call a few per cent of its time.
async fn edge(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    // The state is one pointer: cloned for every request, as a middleware's is.
    let (metrics, limits, boundary) = (&state.metrics, &state.limits, &state.boundary);
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        // `/hooks/:path` rather than `/hooks/{path}`: braces in a label value are
        // legal, but some scrapers and parsers of the text format trip on them.
        .map_or_else(
            || "(unmatched)".to_owned(),
            |path| path.as_str().replace('{', ":").replace('}', ""),
        );
    let response = crate::api::limits::within(limits, request, |request| {
        crate::api::boundary::within(boundary, request, |request| next.run(request))
    })
    .await;
    metrics
        .requests
        .get_or_create(&crate::metrics::RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// The server's whole life from a parsed configuration: telemetry, start-up, serving
/// until Ctrl-C or SIGTERM. Errors are told in one line to whoever started it.
pub async fn serve(config: Config) -> std::process::ExitCode {
    use std::process::ExitCode;
    if let Err(err) = telemetry::init(&config.log_filter) {
        eprintln!("junction: {err}");
        return ExitCode::FAILURE;
    }
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("junction: {}", telemetry::error_chain(&err));
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        database = %crate::store::redact(&config.database_url()),
        "Junction is listening on http://{}",
        app.addr()
    );
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("junction: the server stopped: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM: the one signal the server and its background
/// tasks stop on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Loads the key connection secrets are encrypted under and checks it against the
/// database: from `JUNCTION_SECRET_KEY`, or the key file in the data directory
/// (generated when the database holds no secrets yet). A missing or wrong key is an
/// error of one line saying what to do.
pub async fn unlock_secrets(
    store: Store,
    config: &Config,
) -> Result<(Store, crate::secret_key::KeySource), String> {
    use crate::secret_key::{KeySource, SecretKey};
    let sealed = store
        .has_key_check()
        .await
        .map_err(|err| telemetry::error_chain(&err))?;
    let (key, source) = SecretKey::load(config.secret_key.as_deref(), &config.data_dir, !sealed)?;
    store
        .check_secret_key(&key)
        .await
        .map_err(|err| telemetry::error_chain(&err))?;
    if let KeySource::File {
        path,
        generated: true,
    } = &source
    {
        tracing::info!(
            path = %path.display(),
            "generated the key connection secrets are encrypted under: back it up with the \
             database, or set JUNCTION_SECRET_KEY (servers sharing a database need the same key)"
        );
    }
    Ok((store.with_secret_key(key), source))
}

/// What a connection may not point into: Junction's own data directory, and the
/// directory of its SQLite database.
fn protected_paths(config: &Config) -> Vec<std::path::PathBuf> {
    let mut paths = vec![config.data_dir.clone()];
    if let Some(file) = config.database_url().strip_prefix("sqlite://") {
        let file = file.split('?').next().unwrap_or(file);
        if let Some(parent) = std::path::Path::new(file).parent() {
            paths.push(parent.to_owned());
        }
    }
    paths
}
