//! One milter connection on tokio: read frames (bounded in size and in silence), step the
//! session, ask the handler at the end of a message, write the replies. A protocol error
//! closes the connection with a log line; the MTA then applies `milter_default_action`.

use super::codec::{FrameDecoder, Response};
use super::session::{Session, Step};
use super::{MilterHandler, MilterLimits};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

pub async fn serve<S, H>(
    mut stream: S,
    session_id: String,
    limits: MilterLimits,
    handler: Arc<H>,
    mut stopping: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    H: MilterHandler,
{
    let mut session = Session::new(session_id.clone(), limits);
    let mut decoder = FrameDecoder::new(limits.max_frame);
    let mut buffer = vec![0u8; 64 * 1024];
    let concerns = |rcpt: &str| handler.concerns(rcpt);
    loop {
        let command = match decoder.next_command() {
            Ok(Some(command)) => command,
            Ok(None) => {
                if *stopping.borrow() && !session.in_message() {
                    tracing::debug!(session = %session_id, "milter: closing for shutdown");
                    return;
                }
                let read = tokio::select! {
                    read = tokio::time::timeout(limits.idle_timeout, stream.read(&mut buffer)) => read,
                    _ = stopping.changed(), if !session.in_message() => return,
                };
                match read {
                    Ok(Ok(0)) => {
                        if decoder.pending() > 0 || session.in_message() {
                            tracing::info!(session = %session_id, "milter: the MTA closed the connection mid-message");
                        }
                        return;
                    }
                    Ok(Ok(n)) => {
                        decoder.extend(&buffer[..n]);
                        continue;
                    }
                    Ok(Err(e)) => {
                        tracing::info!(session = %session_id, error = %e, "milter: read failed");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(session = %session_id, timeout = ?limits.idle_timeout, "milter: MTA silent too long; connection closed");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(session = %session_id, error = %e, "milter: malformed frame; connection closed");
                return;
            }
        };
        let responses = match session.on_command(command, &concerns) {
            Step::Reply(responses) => responses,
            Step::Decide(message) => session.verdict_responses(&handler.decide(*message).await),
            Step::Close(None) => return,
            Step::Close(Some(why)) => {
                tracing::warn!(session = %session_id, problem = %why, "milter: connection closed");
                return;
            }
        };
        if !responses.is_empty() && write(&mut stream, &responses, &session_id).await.is_err() {
            return;
        }
    }
}

async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    responses: &[Response],
    session_id: &str,
) -> Result<(), ()> {
    let mut out = Vec::new();
    for response in responses {
        response.encode(&mut out);
    }
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&out).await?;
        stream.flush().await
    })
    .await;
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::info!(session = %session_id, error = %e, "milter: write failed");
            Err(())
        }
        Err(_) => {
            tracing::info!(session = %session_id, "milter: MTA does not read; connection closed");
            Err(())
        }
    }
}

/// An MTA that does not take a few replies within this long is gone.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
