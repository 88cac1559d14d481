//! `GET .../webhook/{webhookId}/stats?since=`: counts by status, success rate, latency and an
//! hourly series (docs/contract.md 12), read from hourly counters: at most 721 small items.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};

use super::Handled;
use super::{json_response, scoped, webhook_id};
use crate::model::{Stats, StatsWindow, Timestamp};
use crate::runtime::ApiContext;
use crate::store::{DeliveryStats, RETENTION, WebhookGet};

pub(crate) async fn webhook_stats<S>(ctx: &ApiContext, store: &S, request: Request) -> Handled
where
    S: WebhookGet + DeliveryStats + ?Sized,
{
    let scope = scoped(&request, &ctx.settings)?;
    let query = request.query_string_parameters();
    let window = StatsWindow::parse(query.first("since"), Timestamp::new(ctx.clock.now()), RETENTION)?;
    let webhook = scope.webhook(store, webhook_id(&request)?).await?;
    let (first, last) = window.hours();
    let hours = store.hourly_counters(webhook.info.id, first, last).await?;
    json_response(StatusCode::OK, &Stats::of(window, &hours))
}
