//! `GET /`: the command-center wall map (指挥中心大屏). The page is `web/index.html`; its script
//! and styles are the built files of `web/` served by [`super::assets`].

use axum::response::Html;

/// The wall-map page.
pub async fn home() -> Html<&'static str> {
    Html(include_str!("../../web/index.html"))
}
