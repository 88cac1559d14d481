//! Rate limits at the HTTP edge (docs/contract.md 5.5): every route per caller, a counter every
//! instance shares (`crate::rate_limit::take`); publishing's per entity is taken where events
//! are published (`crate::rate_limit::take_publish`).

use std::future::Future;

use lambda_http::{Body, Request, Response};

use super::{Handled, serve};
use crate::auth::Caller;
use crate::error::add_rate_limit_headers;
use crate::rate_limit::take;
use crate::runtime::ApiContext;
use crate::store::RateLimitStore;

/// Runs `handler` if the caller's limit allows one more request, and says the limit in the
/// answer's headers; otherwise answers 429 and runs nothing. A request without valid claims
/// is not counted: its handler answers 401. A portal session's request is counted before its
/// expiry and read-only are checked.
pub(crate) async fn limited<S, F, Fut>(ctx: &ApiContext, store: &S, request: Request, handler: F) -> Response<Body>
where
    S: RateLimitStore + ?Sized,
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Handled>,
{
    let Ok(caller) = Caller::from_request(&request, &ctx.settings) else {
        return serve(request, handler).await;
    };
    let key = caller.rate_key();
    match take(ctx, store, "caller", &key, ctx.settings.api_rate).await {
        Ok(verdict) => {
            let mut response = serve(request, handler).await;
            add_rate_limit_headers(&mut response, &verdict);
            response
        }
        Err(err) => serve(request, |_| async { Err(err) }).await,
    }
}
