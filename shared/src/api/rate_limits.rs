//! Rate limits at the HTTP edge (docs/contract.md 5.5): every route per caller, publishing also per
//! entity, each a counter every instance shares (`crate::store::RateLimitStore`).

use std::future::Future;

use lambda_http::{Body, Request, Response};

use super::{Handled, serve};
use crate::auth::Caller;
use crate::error::{Error, add_rate_limit_headers};
use crate::model::EntityId;
use crate::rate_limit::{RatePolicy, Verdict};
use crate::runtime::ApiContext;
use crate::store::RateLimitStore;

/// Runs `handler` if the caller's limit allows one more request, and says the limit in the
/// answer's headers; otherwise answers 429 and runs nothing. A request without valid claims
/// is not counted: its handler answers 401.
pub(crate) async fn limited<S, F, Fut>(ctx: &ApiContext, store: &S, request: Request, handler: F) -> Response<Body>
where
    S: RateLimitStore + ?Sized,
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Handled>,
{
    let Ok(caller) = Caller::from_request(&request, &ctx.settings) else {
        return serve(request, handler).await;
    };
    let key = format!("caller#{}", caller.subject);
    match take(ctx, store, "caller", &key, ctx.settings.api_rate).await {
        Ok(verdict) => {
            let mut response = serve(request, handler).await;
            add_rate_limit_headers(&mut response, &verdict);
            response
        }
        Err(err) => serve(request, |_| async { Err(err) }).await,
    }
}

/// `events` publishes against `entity`'s limit, all or none, in one write: their verdict, or
/// 429 (400 when they are more than its burst, which they could never fit).
pub(crate) async fn take_publish<S: RateLimitStore + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    entity: EntityId,
    events: usize,
) -> Result<Verdict, Error> {
    let policy = ctx.settings.publish_rate;
    // More than a burst never fits (and more than u32::MAX is more than any burst).
    let Some(events) = u32::try_from(events).ok().filter(|events| *events <= policy.burst) else {
        return Err(Error::BadRequest(format!(
            "{events} events are more than the publish limit's burst of {}; send them in smaller batches",
            policy.burst
        )));
    };
    take_many(ctx, store, "publish", &format!("publish#{entity}"), policy, events).await
}

async fn take<S: RateLimitStore + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    name: &'static str,
    key: &str,
    policy: RatePolicy,
) -> Result<Verdict, Error> {
    take_many(ctx, store, name, key, policy, 1).await
}

async fn take_many<S: RateLimitStore + ?Sized>(
    ctx: &ApiContext,
    store: &S,
    name: &'static str,
    key: &str,
    policy: RatePolicy,
    requests: u32,
) -> Result<Verdict, Error> {
    let now = || ctx.clock.now().timestamp_micros();
    let take = |places, now| store.take_many(key, &policy, places, now);
    let decision = ctx.reservations.take(key, &policy, requests, now, take).await?;
    let verdict = Verdict { name, policy, decision };
    if decision.allowed { Ok(verdict) } else { Err(Error::RateLimited(verdict)) }
}
