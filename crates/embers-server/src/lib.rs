//! # embers-server
//!
//! The HTTP side of embers: a JSON API under `/v1` and a web page at `/` for exploring
//! embedding models, served by axum on tokio. `embers serve` is a thin wrapper over this crate.
//!
//! - [`Registry`]: the models served, loaded once and shared (through `Arc`) by all requests.
//! - [`Limits`]: body size, batch size, `k` and time per request.
//! - [`router`]: every route, with structured errors ([`ApiError`]), request logging (tracing),
//!   metrics ([`metrics::Metrics`], Prometheus text at `/metrics`) and per-request timeouts.
//! - [`serve`]: runs the router on a listener until a shutdown signal, letting requests in
//!   flight finish.
//! - [`OPENAPI`]: the OpenAPI document answered at `/openapi.json`, kept in the repository
//!   (`openapi.json`) and checked against [`API_ROUTES`] by the tests.

pub mod api;
pub mod config;
pub mod error;
pub mod extract;
pub mod heavy;
pub mod metrics;
pub mod openai;
pub mod page;
pub mod projection;
pub mod registry;
pub mod search;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::FutureExt;

pub use config::Limits;
pub use error::ApiError;
pub use registry::{Model, Registry};

/// Everything a handler can see: the models, the limits and the counters.
#[derive(Debug)]
pub struct AppState {
    /// The models served.
    pub registry: Registry,
    /// Limits on each request.
    pub limits: Limits,
    /// Request counters for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Threads and queue for CPU-heavy requests.
    pub heavy: heavy::HeavyPool,
}

/// The state shared by all requests.
pub type Shared = Arc<AppState>;

/// The OpenAPI 3 document of the API (the file `openapi.json` in this crate).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Declares the routes once: the list used by the tests and metrics, and the router itself.
macro_rules! routes {
    ($list:ident, $build:ident: $( $method:ident $path:literal => $handler:expr ),* $(,)?) => {
        /// Method and path pattern of every route in this group.
        pub const $list: &[(&str, &str)] = &[ $( (routes!(@upper $method), $path) ),* ];
        fn $build() -> Router<Shared> {
            Router::new() $( .route($path, $method($handler)) )*
        }
    };
    (@upper get) => { "GET" };
    (@upper post) => { "POST" };
}

routes!(API_ROUTES, api_router:
    get "/healthz" => api::healthz,
    get "/metrics" => metrics_text,
    get "/openapi.json" => openapi,
    get "/v1/models" => api::models,
    post "/v1/embeddings" => openai::embeddings,
    post "/v1/models/{model}/vectors" => api::vectors,
    post "/v1/models/{model}/similarity" => api::similarity,
    post "/v1/models/{model}/similar" => api::similar,
    get "/v1/models/{model}/sweep.svg" => api::sweep_chart,
    post "/v1/models/{model}/analogy" => api::analogy,
    post "/v1/models/{model}/projection" => api::projection,
    post "/v1/models/{model}/predict" => api::predict,
    post "/v1/transformers/{model}/embed" => api::embed,
);

routes!(PAGE_ROUTES, page_router:
    get "/" => page::index,
    get "/assets/app.js" => page::script,
    get "/assets/style.css" => page::style,
);

/// Builds the state for `registry` under `limits`, with counters for every route and the
/// heavy-work threads.
pub fn try_state(registry: Registry, limits: Limits) -> std::io::Result<Shared> {
    let metrics = metrics::Metrics::new(API_ROUTES.iter().chain(PAGE_ROUTES).copied());
    let heavy = heavy::HeavyPool::new(limits.heavy_threads, limits.heavy_queue)?;
    Ok(Arc::new(AppState {
        registry,
        limits,
        metrics,
        heavy,
    }))
}

/// [`try_state`] for tests and embedders that cannot go on without threads.
///
/// # Panics
/// If the operating system refuses to start the heavy-work threads.
pub fn state(registry: Registry, limits: Limits) -> Shared {
    try_state(registry, limits).expect("cannot start the heavy-work threads")
}

/// The whole application: API, page, error answers for unknown routes and methods, body-size
/// limit, per-request timeout, panic guard, request log and metrics.
pub fn router(state: Shared) -> Router {
    api_router()
        .merge(page_router())
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Runs `router` on `listener` until `shutdown` completes; then stops accepting connections
/// and returns once the requests in flight have been answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C or SIGTERM (on Unix), logging which.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C: finishing requests in flight, then stopping"),
        _ = term => tracing::info!("SIGTERM: finishing requests in flight, then stopping"),
    }
}

/// The route a response was answered by, for the outer layer's log and metrics.
#[derive(Clone)]
struct RouteTag(MatchedPath);

/// Around every matched route: time limit, panic guard, and the route tag.
async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let run = AssertUnwindSafe(next.run(req)).catch_unwind();
    let mut res = match tokio::time::timeout(state.limits.timeout, run).await {
        Ok(Ok(res)) => res,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "handler panicked");
            ApiError::internal("the server failed while answering; this is a bug").into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {:?} (--timeout)",
                state.limits.timeout
            ),
        )
        .into_response(),
    };
    if let Some(m) = matched {
        res.extensions_mut().insert(RouteTag(m));
    }
    res
}

/// Outermost layer: request log (tracing) and metrics for every request, matched or not.
async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let _in_flight = state.metrics.start();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let elapsed = start.elapsed();
    let route = res.extensions().get::<RouteTag>().map(|t| t.0.as_str());
    let code = res.extensions().get::<error::ErrorCode>().map(|c| c.0);
    let status = res.status().as_u16();
    state
        .metrics
        .record(method.as_str(), route, status, elapsed, code);
    let micros = elapsed.as_micros() as u64;
    if status >= 500 {
        tracing::warn!(%method, %path, status, micros, code, "request failed");
    } else if status >= 400 {
        tracing::info!(%method, %path, status, micros, code, "request refused");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    res
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {}; see /openapi.json", req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

async fn metrics_text(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
