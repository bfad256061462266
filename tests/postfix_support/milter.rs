//! A stand-in for OpenDMARC as Postfix's `smtpd_milters`: a minimal milter (the libmilter
//! protocol, version 6) that adds, at the top of the header, the `Authentication-Results:`
//! that OpenDMARC with `AuthservID mx.vendor.example` would add for a sender that passes.
//! It passes the envelope senders it is given and adds nothing for any other (as a milter
//! that is missing or skips the message). Like a real milter, its header is added by Postfix's
//! cleanup after `header_checks`, so the doc's removal of inbound copies does not touch it.

use super::MYHOSTNAME;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Milter {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Milter {
    pub fn start(passing_senders: &[&str]) -> Milter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the milter");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let passing: Vec<String> = passing_senders.iter().map(|s| s.to_string()).collect();
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let passing = passing.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &passing);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Milter { port, stop }
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_packet(stream: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > 1 << 20 {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    let mut data = vec![0u8; len];
    stream.read_exact(&mut data)?;
    Ok((data[0], data[1..].to_vec()))
}

fn write_packet(stream: &mut TcpStream, command: u8, data: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(data.len() + 1).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.push(command);
    out.extend_from_slice(data);
    stream.write_all(&out)
}

/// One milter connection (several messages: `A` abort resets, `Q` quits).
fn serve(mut stream: TcpStream, passing: &[String]) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut sender = String::new();
    loop {
        let (command, data) = read_packet(&mut stream)?;
        match command {
            // Option negotiation: version 6, we may add headers (SMFIF_ADDHDRS), every step.
            b'O' => {
                let mut reply = 6u32.to_be_bytes().to_vec();
                reply.extend_from_slice(&1u32.to_be_bytes());
                reply.extend_from_slice(&0u32.to_be_bytes());
                write_packet(&mut stream, b'O', &reply)?;
            }
            // Macros, abort, quit-new-connection: no reply.
            b'D' | b'A' | b'K' => {}
            b'Q' => return Ok(()),
            b'M' => {
                let first = data.split(|&b| b == 0).next().unwrap_or_default();
                sender = String::from_utf8_lossy(first)
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_string();
                write_packet(&mut stream, b'c', &[])?;
            }
            // End of message: the verdict header at the top (SMFIR_INSHEADER, index 0).
            b'E' => {
                if passing.contains(&sender) {
                    let domain = sender.rsplit_once('@').map_or("", |(_, d)| d);
                    let value = format!(
                        "{MYHOSTNAME}; spf=pass smtp.mailfrom={domain}; \
                         dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
                    );
                    let mut insert = 0u32.to_be_bytes().to_vec();
                    insert.extend_from_slice(b"Authentication-Results\0");
                    insert.extend_from_slice(value.as_bytes());
                    insert.push(0);
                    write_packet(&mut stream, b'i', &insert)?;
                }
                write_packet(&mut stream, b'c', &[])?;
            }
            // Connect, HELO, RCPT, DATA, header, end of header, body, unknown: continue.
            _ => write_packet(&mut stream, b'c', &[])?,
        }
    }
}
