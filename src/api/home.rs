//! `GET /`: the service's front page. The command-center wall map (roadmap item 7) will be
//! served here; until then the page lists what the service offers and links to it.

use axum::response::Html;

/// The front page.
pub async fn home() -> Html<&'static str> {
    Html(include_str!("../../web/index.html"))
}
