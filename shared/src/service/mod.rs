//! What the API's routes do, apart from HTTP: each function takes the caller's scope, its
//! parsed input and the store traits it uses, and answers a value the handler renders.
//! Publishing (`crate::publish`) and replaying (`crate::replay`) are domain modules of their
//! own; these are the rest.

mod event_view;
mod scope;
mod test_send;
mod versions;
mod webhooks;

pub(crate) use event_view::event_view;
pub(crate) use scope::Scoped;
pub(crate) use test_send::{TestRequest, send_test};
pub(crate) use versions::IfMatch;
pub(crate) use webhooks::{Change, create_webhook, delete_webhook, reachable_page, rotate_secret, update_webhook};
