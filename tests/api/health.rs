//! `/healthz` tells a load balancer whether this instance can serve.

use reqwest::Method;

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_is_200_while_the_database_answers_and_503_after() {
    let app = TestApp::spawn().await;

    let reply = app.raw(Method::GET, "/healthz").send().await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    app.close_database().await;
    let reply = app.raw(Method::GET, "/healthz").send().await;
    assert_eq!(
        reply.status, 503,
        "a closed database is not healthy: {}",
        reply.text
    );

    app.stop().await;
}
