//! A loopback HTTP server that serves a folder's files, standing in for a source
//! host (GitHub and the like cannot be reached from tests).

use std::path::PathBuf;

use axum::Router;

/// A running source host.
pub(crate) struct SourceHost {
    /// `http://127.0.0.1:<port>/files`; a file `x.yaml` is at `<base>/x.yaml`.
    pub(crate) base: String,
    /// `127.0.0.1:<port>`, the form `backend.reading.allow` matches (with the port).
    pub(crate) host: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SourceHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `dir` on a fresh loopback port until the returned value is dropped.
pub(crate) async fn serve_dir(dir: PathBuf) -> SourceHost {
    async fn file(
        axum::extract::State(dir): axum::extract::State<PathBuf>,
        axum::extract::Path(name): axum::extract::Path<String>,
    ) -> Result<String, axum::http::StatusCode> {
        if name.contains("..") {
            return Err(axum::http::StatusCode::BAD_REQUEST);
        }
        std::fs::read_to_string(dir.join(name)).map_err(|_| axum::http::StatusCode::NOT_FOUND)
    }
    let app = Router::new()
        .route("/files/{*name}", axum::routing::get(file))
        .with_state(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    SourceHost {
        base: format!("http://{addr}/files"),
        host: addr.to_string(),
        task,
    }
}
