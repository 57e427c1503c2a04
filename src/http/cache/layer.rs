//! The cache in front of every public page, as a tower layer: a page kept
//! and fresh is answered from `call` itself, with no future to box and no
//! clone of the routes behind (what `axum::middleware::from_fn` costs every
//! request); anything else goes on to `serve`.

use std::{
    convert::Infallible,
    sync::atomic::Ordering,
    task::{Context, Poll},
};

use axum::{extract::Request, http::Method, response::Response};
use futures::future::{BoxFuture, Either, Ready};

use super::serve;
use crate::http::AppState;

#[derive(Clone)]
pub struct PageCacheLayer(pub AppState);

impl<S> tower::Layer<S> for PageCacheLayer {
    type Service = CachedPages<S>;

    fn layer(&self, inner: S) -> CachedPages<S> {
        CachedPages {
            state: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct CachedPages<S> {
    state: AppState,
    inner: S,
}

type Answer = Result<Response, Infallible>;

impl<S> tower::Service<Request> for CachedPages<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Either<Ready<Answer>, S::Future>, BoxFuture<'static, Answer>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let method = request.method();
        if !(method == Method::GET || method == Method::HEAD) {
            return Either::Left(Either::Right(self.inner.call(request)));
        }
        if request.uri().query().is_some() {
            // No public page reads its query: the handler is given none, so
            // the page kept under the path alone is exactly what it renders
            // (a page that comes to read a parameter must put it in the key).
            if let Ok(uri) = request.uri().path().parse() {
                *request.uri_mut() = uri;
            }
        }
        let state = &self.state;
        let cache = &state.page_cache;
        if !cache.poll_due() {
            let generation = state.page_changes.load(Ordering::Acquire);
            if let Some(entry) = cache.lookup(request.uri().path(), generation, state.clock.now()) {
                let answer = entry.respond(request.method(), request.headers());
                return Either::Left(Either::Left(futures::future::ready(Ok(answer))));
            }
        }
        // The clone stays; the service that was made ready renders.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let state = self.state.clone();
        Either::Right(Box::pin(
            async move { Ok(serve(state, request, inner).await) },
        ))
    }
}
