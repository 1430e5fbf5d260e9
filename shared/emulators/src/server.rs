//! Serving an emulator: one accept loop per server, one task per connection, and a way for the fault
//! injector to abort a connection without sending a response (with `SO_LINGER 0`, so the peer sees a reset).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Lets a handler (the fault middleware) abort the connection its request came on.
#[derive(Debug, Clone)]
pub struct ConnectionControl {
    abort: Arc<Notify>,
}

impl ConnectionControl {
    /// Aborts the connection; the returned future never completes (the connection task drops it).
    pub async fn drop_connection(&self) -> Response {
        self.abort.notify_one();
        std::future::pending::<Response>().await
    }
}

/// A running emulator. Dropping it (or calling [`RunningServer::shutdown`]) stops the accept loop.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Serves `router` on `addr` (use `127.0.0.1:0` in tests). Returns once the socket is bound.
pub async fn serve(router: Router, addr: SocketAddr) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (shutdown, mut stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.changed() => break,
            };
            let Ok((stream, _peer)) = accepted else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let mut stop_conn = stop.clone();
            tokio::spawn(async move {
                let abort = Arc::new(Notify::new());
                let control = ConnectionControl {
                    abort: abort.clone(),
                };
                // Keep a handle to set SO_LINGER 0 before dropping, so the peer gets a reset, not a clean close.
                let std_stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(_) => return,
                };
                let linger_handle = std_stream.try_clone().ok();
                let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else {
                    return;
                };
                let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    req.extensions_mut().insert(control.clone());
                    let router = router.clone();
                    async move { router.oneshot(req.map(axum::body::Body::new)).await }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    _ = abort.notified() => {
                        if let Some(s) = linger_handle {
                            let _ = socket2::SockRef::from(&s).set_linger(Some(std::time::Duration::ZERO));
                        }
                    }
                    _ = stop_conn.changed() => {}
                }
            });
        }
    });
    Ok(RunningServer {
        addr,
        shutdown,
        task: Some(task),
    })
}
