//! [`VantagepointClient`]: bearer-authenticated JSON calls on the `/api` and `/vision` roots, with one token
//! renewal + one retry on 401, retries of retryable failures, and paging of list reads.

use std::sync::Arc;

use ledgerlink_clock::SharedClock;
use ledgerlink_ports::TokenStore;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::config::VantagepointConfig;
use crate::decode;
use crate::error::VpError;
use crate::http::{Root, classify, encode_segment, exchange, with_retries};
use crate::query::{ListQuery, Paging};
use crate::token::TokenManager;

/// A Vantagepoint REST client for one tenant. Cheap to clone (shared inside); build it once per process.
#[derive(Debug, Clone)]
pub struct VantagepointClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: Arc<VantagepointConfig>,
    api: Url,
    vision: Url,
    tokens: TokenManager,
    clock: SharedClock,
}

/// Whether repeating a request can change VP's state a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes that set a value (PUT of a field, setting the active period): a lost answer is
    /// retried.
    Idempotent,
    /// Creates and postings: a lost answer is [`VpError::OutcomeUnknown`]; the caller looks before retrying.
    NonIdempotent,
}

impl VantagepointClient {
    /// Builds the client: one connection pool (rustls), the token manager on `tokens`, time from `clock`.
    pub fn new(
        config: VantagepointConfig,
        tokens: Arc<dyn TokenStore>,
        clock: SharedClock,
    ) -> Result<Self, VpError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!(
                "ledgerlink-vantagepoint/",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(std::time::Duration::from_secs(10))
            // Never follow a redirect: a 307/308 would re-send the token POST (password, client secret) or
            // the bearer token to wherever the answer points.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(std::time::Duration::from_secs(60));
        if let Some(resolver) = &config.dns_resolver {
            builder = builder.dns_resolver(resolver.0.clone());
        }
        let http = builder.build().map_err(|e| VpError::Config {
            message: format!("cannot build the HTTP client: {e}"),
        })?;
        let join = |root: &str| {
            config.base_url.join(root).map_err(|e| VpError::Config {
                message: format!("cannot build {root}: {e}"),
            })
        };
        let api = join("api/")?;
        let vision = join("vision/")?;
        let config = Arc::new(config);
        let tokens = TokenManager::new(http.clone(), config.clone(), tokens, clock.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                api,
                vision,
                tokens,
                clock,
            }),
        })
    }

    pub fn config(&self) -> &VantagepointConfig {
        &self.inner.config
    }

    pub fn tokens(&self) -> &TokenManager {
        &self.inner.tokens
    }

    /// The clock this client decides time with (shared with its token manager).
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The URL of `segments` under `root`; each segment is percent-encoded (`|` → `%7C`).
    pub fn url(&self, root: Root, segments: &[&str], query: &[(String, String)]) -> Url {
        let base = match root {
            Root::Api => &self.inner.api,
            Root::Vision => &self.inner.vision,
        };
        let path: Vec<String> = segments.iter().map(|s| encode_segment(s)).collect();
        let mut url = base.clone();
        let joined = format!("{}{}", base.path(), path.join("/"));
        url.set_path(&joined);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        url
    }

    /// One authenticated call; the answer as JSON (`Null` for an empty body, a JSON string for a body that
    /// is not JSON). A 401 triggers one token renewal and one retry; retryable failures are retried with
    /// backoff.
    pub async fn call(
        &self,
        method: Method,
        root: Root,
        segments: &[&str],
        query: &[(String, String)],
        body: Option<&Value>,
        idempotency: Idempotency,
    ) -> Result<Value, VpError> {
        let url = self.url(root, segments, query);
        let operation = format!("{method} {}", url.path());
        let idempotent = idempotency == Idempotency::Idempotent;
        let inner = &self.inner;
        with_retries(inner.config.retry, &inner.clock, &operation, || {
            let url = url.clone();
            let method = method.clone();
            let operation = operation.as_str();
            async move {
                let send = |token: String| {
                    let mut request = inner
                        .http
                        .request(method.clone(), url.clone())
                        .bearer_auth(token)
                        .header(reqwest::header::ACCEPT, "application/json")
                        .timeout(inner.config.request_timeout);
                    if let Some(body) = body {
                        request = request.json(body);
                    }
                    exchange(request, operation, idempotent)
                };
                let token = inner.tokens.access_token().await?;
                let mut raw = send(token.clone()).await?;
                if raw.status.as_u16() == 401 {
                    tracing::debug!(operation, "bearer refused; renewing the token once");
                    let renewed = inner.tokens.renew_after_rejection(&token).await?;
                    raw = send(renewed).await?;
                }
                if !raw.status.is_success() {
                    return Err(classify(&raw, operation, idempotent));
                }
                let trimmed = raw.body.trim();
                if trimmed.is_empty() {
                    return Ok(Value::Null);
                }
                // Amounts keep their text (never a float on the way to a decimal).
                Ok(ledgerlink_domain::json::parse_lossless(trimmed)
                    .unwrap_or_else(|_| Value::String(raw.body.clone())))
            }
        })
        .await
    }

    /// GET of a list, every page: `limit`/`offset` (hubs) or `q.maxrows`/`offset` (ledger) until a short page.
    /// Returns the raw rows; [`VpError::Decode`] if the server ignores `offset` on a full page (rows would be
    /// missing otherwise).
    pub async fn list_rows(
        &self,
        root: Root,
        segments: &[&str],
        query: &ListQuery,
        paging: Paging,
    ) -> Result<Vec<Value>, VpError> {
        match paging {
            Paging::LimitOffset { limit } => {
                let limit = limit.max(1);
                let mut all = Vec::new();
                let mut offset = 0u32;
                loop {
                    let pairs = query.pairs(Paging::LimitOffset { limit }, offset);
                    let page = decode::rows(
                        self.call(
                            Method::GET,
                            root,
                            segments,
                            &pairs,
                            None,
                            Idempotency::Idempotent,
                        )
                        .await?,
                    );
                    let n = page.len();
                    all.extend(page);
                    // A server that ignores `limit` returns everything at once: stop rather than loop.
                    if n != limit as usize {
                        return Ok(all);
                    }
                    offset = offset.saturating_add(limit);
                }
            }
            Paging::MaxRows { max_rows } => {
                // PSALedger / DataEntry reject `limit`; page with `q.maxrows` + `offset` until a short page.
                let max_rows = max_rows.max(1);
                let mut all: Vec<Value> = Vec::new();
                let mut offset = 0u32;
                loop {
                    let mut pairs = query.pairs(paging, 0);
                    if offset > 0 {
                        pairs.push(("offset".to_owned(), offset.to_string()));
                    }
                    let page = decode::rows(
                        self.call(
                            Method::GET,
                            root,
                            segments,
                            &pairs,
                            None,
                            Idempotency::Idempotent,
                        )
                        .await?,
                    );
                    let n = page.len();
                    if offset > 0 && n > 0 && all.len() >= n && all[all.len() - n..] == page[..] {
                        return Err(VpError::Decode {
                            context: format!("GET {}", segments.join("/")),
                            message: format!(
                                "the server ignores offset and the read hit the row cap of {max_rows}"
                            ),
                            source: None,
                        });
                    }
                    all.extend(page);
                    if n < max_rows as usize {
                        return Ok(all);
                    }
                    offset = offset.saturating_add(max_rows);
                }
            }
            Paging::None => {
                let pairs = query.pairs(paging, 0);
                Ok(decode::rows(
                    self.call(
                        Method::GET,
                        root,
                        segments,
                        &pairs,
                        None,
                        Idempotency::Idempotent,
                    )
                    .await?,
                ))
            }
        }
    }

    /// [`Self::list_rows`] decoded into `T`.
    pub async fn list<T: DeserializeOwned>(
        &self,
        root: Root,
        segments: &[&str],
        query: &ListQuery,
        paging: Paging,
    ) -> Result<Vec<T>, VpError> {
        let context = segments.join("/");
        self.list_rows(root, segments, query, paging)
            .await?
            .into_iter()
            .map(|row| serde_json::from_value(row).map_err(|e| VpError::decode(context.clone(), e)))
            .collect()
    }

    /// GET of one record (VP answers with a one-element array); 404 and an empty answer are `None`.
    pub async fn get_one<T: DeserializeOwned>(
        &self,
        root: Root,
        segments: &[&str],
    ) -> Result<Option<T>, VpError> {
        match self
            .call(
                Method::GET,
                root,
                segments,
                &[],
                None,
                Idempotency::Idempotent,
            )
            .await
        {
            Ok(v) => decode::decode_first(v, &segments.join("/")),
            Err(VpError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn hub_paging(&self) -> Paging {
        Paging::LimitOffset {
            limit: self.inner.config.page_size,
        }
    }

    pub(crate) fn ledger_paging(&self) -> Paging {
        Paging::MaxRows {
            max_rows: self.inner.config.ledger_max_rows,
        }
    }
}
