//! Graceful shutdown: sessions may finish within the grace period, the rest get 421 4.3.2.

mod smtp_support;

use std::time::Duration;

use smtp_support::*;

#[tokio::test]
async fn shutdown_lets_sessions_finish_then_closes_the_rest() {
    let mut config = test_config();
    config.shutdown_grace = Duration::from_millis(500);
    let mut server = start(config).await;
    let addr = server.addr();

    let mut idle = Client::greeted(addr).await;
    let mut busy = Client::greeted(addr).await;
    busy.cmd("EHLO client.example").await;
    busy.expect("MAIL FROM:<a@example.org>", "250").await;
    busy.expect("RCPT TO:<support@vendor.example>", "250").await;
    busy.expect("DATA", "354").await;

    server.request_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // New connections are no longer served.
    if let Ok(Ok(stream)) = tokio::time::timeout(WAIT, tokio::net::TcpStream::connect(addr)).await {
        let mut late = Client::new(stream);
        assert!(
            !late.reply().await.starts_with("220"),
            "served after shutdown"
        );
    }

    // A session in progress finishes its transaction within the grace period.
    busy.send("finished during grace\r\n.\r\n").await;
    assert!(busy.reply().await.starts_with("250"));

    // Once the grace period is over, open sessions are told and closed.
    assert!(idle.reply().await.starts_with("421 4.3.2"));
    assert!(idle.closed().await);
    assert!(busy.reply().await.starts_with("421 4.3.2"));

    let result = tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("run() did not return after shutdown")
        .expect("server task panicked");
    assert!(result.is_ok());
    assert_eq!(server.handler.messages().len(), 1);
}
